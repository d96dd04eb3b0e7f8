"""Expiry dates per policy, reminder selection and inactivity cut-offs (pure rules)."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from loyalty_plugin.domain.errors import ValidationError
from loyalty_plugin.domain.expiry import (
    ExpiryKind,
    ExpiryPolicy,
    expiry_date,
    inactivity_cutoff,
    last_valid_day,
    parse_reminder_days,
    reminder_due,
)

BERLIN = ZoneInfo("Europe/Berlin")
#: 23:30 UTC on 31 January is already 1 February in Berlin.
LATE_JANUARY = datetime(2026, 1, 31, 23, 30, tzinfo=UTC)


def local_midnight(day: date, tz: ZoneInfo = BERLIN) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)


def test_never_expires() -> None:
    """The default policy gives points no expiry date."""
    assert expiry_date(ExpiryPolicy(), LATE_JANUARY, BERLIN) is None


def test_days_after_earning_end_at_local_midnight() -> None:
    """N days after earning means until the end of that local day."""
    policy = ExpiryPolicy(kind=ExpiryKind.DAYS_AFTER_EARNING, days=90)
    expires = expiry_date(policy, LATE_JANUARY, BERLIN)
    assert expires == local_midnight(date(2026, 5, 3))
    assert last_valid_day(expires, BERLIN) == date(2026, 5, 2)


@pytest.mark.parametrize(
    ("kind", "extra", "last_day"),
    [
        (ExpiryKind.END_OF_MONTH, 0, date(2026, 2, 28)),
        (ExpiryKind.END_OF_MONTH, 1, date(2026, 3, 31)),
        (ExpiryKind.END_OF_MONTH, 12, date(2027, 2, 28)),
        (ExpiryKind.END_OF_YEAR, 0, date(2026, 12, 31)),
        (ExpiryKind.END_OF_YEAR, 3, date(2027, 3, 31)),
        (ExpiryKind.END_OF_YEAR, 14, date(2028, 2, 29)),
    ],
)
def test_end_of_month_or_year_plus_months(kind: ExpiryKind, extra: int, last_day: date) -> None:
    """Month and year ends count in the merchant's zone, plus whole months."""
    expires = expiry_date(ExpiryPolicy(kind=kind, extra_months=extra), LATE_JANUARY, BERLIN)
    assert expires == local_midnight(last_day + timedelta(days=1))


def test_fixed_date_applies_only_to_points_earned_before_it() -> None:
    """A fixed date ends points earned up to that day; later points do not expire."""
    policy = ExpiryPolicy(kind=ExpiryKind.FIXED_DATE, fixed_date=date(2026, 6, 30))
    assert expiry_date(policy, LATE_JANUARY, BERLIN) == local_midnight(date(2026, 7, 1))
    assert expiry_date(policy, datetime(2026, 7, 1, 12, tzinfo=UTC), BERLIN) is None


def test_expiry_is_always_after_earning() -> None:
    """Whatever the policy and the hour, points never expire the moment they are earned."""
    policies = [
        ExpiryPolicy(kind=ExpiryKind.DAYS_AFTER_EARNING, days=1),
        ExpiryPolicy(kind=ExpiryKind.END_OF_MONTH),
        ExpiryPolicy(kind=ExpiryKind.END_OF_YEAR),
        ExpiryPolicy(kind=ExpiryKind.FIXED_DATE, fixed_date=date(2026, 1, 31)),
    ]
    for hour in range(24):
        earned = datetime(2026, 1, 31, hour, 59, tzinfo=UTC)
        for policy in policies:
            expires = expiry_date(policy, earned, BERLIN)
            assert expires is None or expires > earned


@pytest.mark.parametrize(
    ("policy", "field"),
    [
        ({"kind": ExpiryKind.DAYS_AFTER_EARNING}, "days"),
        ({"kind": ExpiryKind.DAYS_AFTER_EARNING, "days": 0}, "days"),
        ({"kind": ExpiryKind.FIXED_DATE}, "fixed_date"),
        ({"extra_months": -1}, "extra_months"),
        ({"inactivity_months": 0}, "inactivity_months"),
        ({"reminder_days": (30, 0)}, "reminder_days"),
    ],
)
def test_nonsense_policies_are_refused(policy: dict, field: str) -> None:
    """A policy that cannot give a date is refused, naming the setting."""
    with pytest.raises(ValidationError) as error:
        ExpiryPolicy(**policy)
    assert error.value.field == field


NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("days_ahead", "due"),
    [(45, None), (30, 30), (20.5, 30), (7, 7), (5, 7), (0.01, 7), (0, None), (-1, None)],
)
def test_the_nearest_open_reminder_is_due(days_ahead: float, due: int | None) -> None:
    """Of the offsets whose window opened, only the nearest still makes sense."""
    expires = NOW + timedelta(days=days_ahead)
    assert reminder_due((30, 7), expires_at=expires, now=NOW) == due


def test_reminder_offsets_parse_largest_first() -> None:
    """ "7, 30,30" is the offsets 30 and 7."""
    assert parse_reminder_days("7, 30,30") == (30, 7)
    with pytest.raises(ValidationError):
        parse_reminder_days("7, soon")


@pytest.mark.parametrize(
    ("now", "months", "cutoff"),
    [
        (datetime(2026, 3, 31, 8, tzinfo=UTC), 1, datetime(2026, 2, 28, 8, tzinfo=UTC)),
        (datetime(2026, 3, 15, tzinfo=UTC), 3, datetime(2025, 12, 15, tzinfo=UTC)),
        (datetime(2026, 1, 10, tzinfo=UTC), 24, datetime(2024, 1, 10, tzinfo=UTC)),
    ],
)
def test_inactivity_counts_calendar_months(now: datetime, months: int, cutoff: datetime) -> None:
    """N months of inactivity reach back N calendar months, clamped to the month's end."""
    assert inactivity_cutoff(months, now) == cutoff
