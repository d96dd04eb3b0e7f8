"""Expiry rules: when earned points expire, and which reminder is due before they do.

Pure functions over a settings dataclass. Today the settings are one per merchant; when
programs carry their own (issue 5) only the place the dataclass is read from changes.

Dates are calendar dates in the merchant's time zone: "expires on 15 April" means the
points can be spent until the end of 15 April there, so ``expires_at`` is the first
instant of 16 April in that zone (stored in UTC).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from loyalty_plugin.domain.errors import ValidationError


class ExpiryKind(enum.StrEnum):
    """How a program decides when points expire."""

    #: Points never expire (inactivity expiry may still apply).
    NEVER = "never"
    #: At the end of the day ``days`` after the points were earned.
    DAYS_AFTER_EARNING = "days_after_earning"
    #: At the end of the month of earning, plus ``extra_months`` months.
    END_OF_MONTH = "end_of_month"
    #: At the end of the year of earning, plus ``extra_months`` months.
    END_OF_YEAR = "end_of_year"
    #: At the end of ``fixed_date``; points earned after that date do not expire.
    FIXED_DATE = "fixed_date"


#: Reminder offsets used when a merchant has not chosen any: 30 and 7 days before.
DEFAULT_REMINDER_DAYS: tuple[int, ...] = (30, 7)


@dataclass(frozen=True, kw_only=True)
class ExpiryPolicy:
    """A program's expiry settings (see :class:`ExpiryKind`)."""

    kind: ExpiryKind = ExpiryKind.NEVER
    #: For ``DAYS_AFTER_EARNING``: how many days points last.
    days: int | None = None
    #: For ``END_OF_MONTH`` and ``END_OF_YEAR``: months added after that end.
    extra_months: int = 0
    #: For ``FIXED_DATE``: the last day points earned before it can be spent.
    fixed_date: date | None = None
    #: Expire all points of an account with no earning or spending for this many months.
    inactivity_months: int | None = None
    #: Days before expiry at which customers are reminded, e.g. ``(30, 7)``.
    reminder_days: tuple[int, ...] = DEFAULT_REMINDER_DAYS

    def __post_init__(self) -> None:
        check_policy(self)


def check_policy(policy: ExpiryPolicy) -> None:
    """Refuse settings that cannot describe an expiry date."""
    if policy.kind == ExpiryKind.DAYS_AFTER_EARNING and not _positive(policy.days):
        raise ValidationError("points must last at least 1 day", field="days")
    if policy.kind == ExpiryKind.FIXED_DATE and not isinstance(policy.fixed_date, date):
        raise ValidationError("a fixed-date policy needs a date", field="fixed_date")
    if not isinstance(policy.extra_months, int) or not 0 <= policy.extra_months <= 120:
        raise ValidationError("extra months must be between 0 and 120", field="extra_months")
    if policy.inactivity_months is not None and not _positive(policy.inactivity_months):
        raise ValidationError("inactivity must be at least 1 month", field="inactivity_months")
    for offset in policy.reminder_days:
        if not _positive(offset) or offset > 3650:
            raise ValidationError(
                "reminder offsets are whole days from 1 to 3650", field="reminder_days"
            )


def expiry_date(policy: ExpiryPolicy, earned_at: datetime, tz: ZoneInfo) -> datetime | None:
    """When points earned at ``earned_at`` expire under ``policy`` (UTC), or ``None``.

    The result is always after ``earned_at``, as the ledger requires.
    """
    local = earned_at.astimezone(tz).date()
    if policy.kind == ExpiryKind.NEVER:
        return None
    if policy.kind == ExpiryKind.DAYS_AFTER_EARNING:
        last_day = local + timedelta(days=policy.days or 0)
    elif policy.kind == ExpiryKind.END_OF_MONTH:
        last_day = _month_end(local.year, local.month + policy.extra_months)
    elif policy.kind == ExpiryKind.END_OF_YEAR:
        last_day = _month_end(local.year, 12 + policy.extra_months)
    else:
        if policy.fixed_date is None or local > policy.fixed_date:
            return None
        last_day = policy.fixed_date
    return end_of_day(last_day, tz)


def end_of_day(day: date, tz: ZoneInfo) -> datetime:
    """The first instant after ``day`` in ``tz``, in UTC (when points valid on it expire)."""
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=tz).astimezone(UTC)


def last_valid_day(expires_at: datetime, tz: ZoneInfo) -> date:
    """The last calendar day in ``tz`` on which points expiring at ``expires_at`` count."""
    return (expires_at - timedelta(microseconds=1)).astimezone(tz).date()


def days_left(expires_at: datetime, now: datetime) -> float:
    """Days (fractional) from ``now`` until ``expires_at``."""
    return (expires_at - now) / timedelta(days=1)


def reminder_due(offsets: Iterable[int], *, expires_at: datetime, now: datetime) -> int | None:
    """The reminder offset to send now for points expiring at ``expires_at``, if any.

    Every offset whose window has opened (``expires_at - offset days <= now``) is due; only
    the nearest of them still makes sense, so a late run sends just that one. Nothing is
    due once the points have expired.
    """
    left = days_left(expires_at, now)
    if left <= 0:
        return None
    opened = [offset for offset in offsets if offset >= left]
    return min(opened) if opened else None


def inactivity_cutoff(months: int, now: datetime) -> datetime:
    """Accounts with no activity since this instant are inactive after ``months`` months."""
    year, month = divmod(now.month - 1 - months, 12)
    day = min(now.day, _days_in_month(now.year + year, month + 1))
    return now.replace(year=now.year + year, month=month + 1, day=day)


def parse_reminder_days(text: str) -> tuple[int, ...]:
    """``"30, 7"`` as ``(30, 7)``: distinct offsets, largest first."""
    try:
        offsets = {int(part) for part in text.replace(" ", "").split(",") if part}
    except ValueError:
        raise ValidationError(
            "reminder offsets are whole days separated by commas", field="reminder_days"
        ) from None
    return tuple(sorted(offsets, reverse=True))


def _month_end(year: int, month: int) -> date:
    """The last day of ``month`` (which may run past 12) of ``year``."""
    extra_years, month_index = divmod(month - 1, 12)
    year, month = year + extra_years, month_index + 1
    return date(year, month, _days_in_month(year, month))


def _days_in_month(year: int, month: int) -> int:
    following = date(year + month // 12, month % 12 + 1, 1)
    return (following - timedelta(days=1)).day


def _positive(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1
