"""Job schedules: parsing overrides, fixed slots every process agrees on, descriptions."""

from datetime import UTC, datetime

import pytest

from loyalty_plugin.jobs.schedule import (
    describe,
    parse_schedule,
    parse_schedule_overrides,
    slot_for,
)


@pytest.mark.parametrize(
    ("text", "parsed"),
    [("30s", (30, 0)), ("15m", (900, 0)), ("1h", (3600, 0)), ("1d@02:30", (86400, 9000))],
)
def test_schedules_parse(text: str, parsed: tuple[int, int]) -> None:
    """Intervals with a unit, and a time of day for daily jobs."""
    assert parse_schedule(text) == parsed


@pytest.mark.parametrize("text", ["often", "5", "1h@02:00", "0s", "1w"])
def test_bad_schedules_are_refused(text: str) -> None:
    """A schedule that cannot be read, or an offset outside the interval, is an error."""
    with pytest.raises(ValueError, match="bad job schedule"):
        parse_schedule(text)


def test_overrides_come_from_a_mapping_or_the_environment() -> None:
    """``name=spec`` pairs from an environment variable, ``off`` to switch a job off."""
    expected = {"expire-points": (3600, 0), "send-emails": None}
    assert parse_schedule_overrides("expire-points=1h, send-emails=off") == expected
    assert parse_schedule_overrides({"expire-points": "1h", "send-emails": "off"}) == expected
    with pytest.raises(ValueError, match="name=spec"):
        parse_schedule_overrides("expire-points")


def test_every_process_computes_the_same_slot() -> None:
    """Slots are multiples of the interval from a fixed origin, whatever the start time."""
    late = datetime(2026, 5, 4, 10, 59, 59, 999999, tzinfo=UTC)
    on_time = datetime(2026, 5, 4, 10, 5, tzinfo=UTC)
    assert slot_for(late, every_seconds=3600, offset_seconds=300) == on_time
    assert slot_for(on_time, every_seconds=3600, offset_seconds=300) == on_time
    daily = slot_for(
        datetime(2026, 5, 4, 6, 59, tzinfo=UTC), every_seconds=86400, offset_seconds=25200
    )
    assert daily == datetime(2026, 5, 3, 7, 0, tzinfo=UTC)


def test_schedules_read_as_people_say_them() -> None:
    """``daily at 07:00 UTC``, ``every 1h (+5m)``, ``every 30s``."""
    assert describe(86400, 25200) == "daily at 07:00 UTC"
    assert describe(3600, 300) == "every 1h (+5m)"
    assert describe(30, 0) == "every 30s"
    assert describe(90, 0) == "every 90s"
