"""When jobs run: fixed slots every N seconds from one anchor, the same in every process.

Every scheduler computes the same run times for a job (2000-01-01 UTC + offset + k x
interval), so two schedulers fire the same slot and the database claim on (job, slot)
lets exactly one of them run it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

#: The origin every job's slots are counted from.
ANCHOR = datetime(2000, 1, 1, tzinfo=UTC)

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}
_SPEC = re.compile(r"^(\d+)([smhd])(?:@(\d{1,2}):(\d{2}))?$")


def origin(offset_seconds: int = 0) -> datetime:
    """The first run time of a schedule (the ``start_date`` of its APScheduler trigger)."""
    return ANCHOR + timedelta(seconds=offset_seconds)


def slot_for(now: datetime, *, every_seconds: int, offset_seconds: int = 0) -> datetime:
    """The latest run time of the schedule at or before ``now``."""
    start = origin(offset_seconds)
    step = timedelta(seconds=every_seconds)
    return start + ((now - start) // step) * step


def parse_schedule(text: str) -> tuple[int, int] | None:
    """``"30s"``, ``"15m"``, ``"1h"``, ``"1d@02:00"`` as (interval, offset) seconds; ``off``.

    ``@HH:MM`` shifts the runs by that much from midnight UTC (for day intervals: the time
    of day they run at).
    """
    spec = text.strip().lower()
    if spec in ("off", "never", "disabled"):
        return None
    match = _SPEC.match(spec)
    if not match:
        raise ValueError(f"bad job schedule {text!r}: use 30s, 15m, 1h, 1d@02:00 or off")
    every = int(match[1]) * _UNITS[match[2]]
    offset = int(match[3] or 0) * 3600 + int(match[4] or 0) * 60
    if every < 1 or offset >= every:
        raise ValueError(f"bad job schedule {text!r}: the time must fall within the interval")
    return every, offset


def parse_schedule_overrides(value: Any) -> dict[str, tuple[int, int] | None]:
    """``LOYALTY_JOB_SCHEDULE``: a mapping, or ``"name=spec, name=spec"`` from the environment."""
    if not value:
        return {}
    if isinstance(value, str):
        pairs = [item.split("=", 1) for item in value.split(",") if item.strip()]
        if any(len(pair) != 2 for pair in pairs):
            raise ValueError(f"bad LOYALTY_JOB_SCHEDULE {value!r}: use name=spec, name=spec")
        value = {name.strip(): spec for name, spec in pairs}
    return {name: parse_schedule(str(spec)) for name, spec in dict(value).items()}


def describe(every_seconds: int, offset_seconds: int) -> str:
    """A schedule as people read it: ``every 30s``, ``every 1h at :05``, ``daily at 07:00``."""
    if every_seconds % 86_400 == 0:
        days = every_seconds // 86_400
        hours, rest = divmod(offset_seconds, 3600)
        when = f"at {hours:02d}:{rest // 60:02d} UTC"
        return f"daily {when}" if days == 1 else f"every {days} days {when}"
    for unit, size in (("h", 3600), ("m", 60)):
        if every_seconds % size == 0:
            base = f"every {every_seconds // size}{unit}"
            break
    else:
        base = f"every {every_seconds}s"
    if offset_seconds:
        minutes, seconds = divmod(offset_seconds, 60)
        base += f" (+{minutes}m{seconds:02d}s)" if seconds else f" (+{minutes}m)"
    return base
