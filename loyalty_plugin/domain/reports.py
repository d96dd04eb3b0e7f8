"""The calendar and the categories of the reports: periods, weeks, age bands, expiry months.

Pure rules, no database. A report's period is a range of the merchant's calendar days;
its weeks start on Monday in the merchant's time zone. The services turn these into UTC
instants and compare stored (UTC) times with them, so that a week is the same on SQLite,
PostgreSQL and MariaDB and follows daylight saving time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from loyalty_plugin.domain.errors import ValidationError
from loyalty_plugin.domain.ledger import EntryKind

#: The longest period a dashboard or an export covers (two years and a day).
MAX_DAYS = 732
#: Weeks a dashboard shows when no period is given (this week and the eleven before).
DEFAULT_WEEKS = 12
#: Age bands of open points, in days since they were earned: (label, first day, last day).
AGE_BANDS: tuple[tuple[str, int, int | None], ...] = (
    ("0-30", 0, 30),
    ("31-90", 31, 90),
    ("91-180", 91, 180),
    ("181-365", 181, 365),
    ("older", 366, None),
)
#: Expiry months an aging report lists one by one (this month and the next eleven).
EXPIRY_MONTHS = 12
#: Look-ahead windows of the "points expiring soon" figures, in days.
EXPIRING_WITHIN = (30, 60, 90)


@dataclass(frozen=True, kw_only=True)
class Period:
    """The merchant's calendar days ``first`` to ``last`` (both included) in ``zone``."""

    first: date
    last: date
    zone: str = "UTC"

    @property
    def starts_at(self) -> datetime:
        """The first day's midnight, in UTC."""
        return local_midnight(self.first, self.zone)

    @property
    def ends_at(self) -> datetime:
        """The midnight after the last day, in UTC (excluded)."""
        return local_midnight(self.last + timedelta(days=1), self.zone)

    def weeks(self) -> list[date]:
        """The Mondays of the weeks the period touches, oldest first."""
        monday = self.first - timedelta(days=self.first.weekday())
        return [monday + timedelta(weeks=n) for n in range((self.last - monday).days // 7 + 1)]

    def week_bounds(self) -> list[datetime]:
        """UTC instants cutting the period into its weeks: start, each Monday inside, end."""
        inner = [local_midnight(monday, self.zone) for monday in self.weeks()[1:]]
        return [self.starts_at, *inner, self.ends_at]


def period(
    *, first: date | None, last: date | None, today: date, zone: str, limit: bool = True
) -> Period:
    """The period asked for; by default the last :data:`DEFAULT_WEEKS` weeks up to today.

    Refuses (``ValidationError``) a first day after the last, and with ``limit`` a period
    longer than :data:`MAX_DAYS`.
    """
    check_zone(zone)
    last = last or today
    if first is None:
        first = last - timedelta(days=last.weekday()) - timedelta(weeks=DEFAULT_WEEKS - 1)
    if first > last:
        raise ValidationError("the first day is after the last", field="from")
    if limit and (last - first).days + 1 > MAX_DAYS:
        raise ValidationError(f"a period is at most {MAX_DAYS} days", field="to")
    return Period(first=first, last=last, zone=zone)


def check_zone(zone: str) -> ZoneInfo:
    """The IANA time zone ``zone`` (a merchant's stored zone that is unknown is refused)."""
    try:
        return ZoneInfo(zone)
    except (ValueError, KeyError) as error:
        raise ValidationError(f"unknown time zone {zone!r}", field="timezone") from error


def local_midnight(day: date, zone: str) -> datetime:
    """The start of ``day`` in ``zone``, in UTC (the first instant of the day if a DST
    change skips midnight)."""
    tz = check_zone(zone)
    naive = datetime.combine(day, time())
    local = naive.replace(tzinfo=tz)
    back = local.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    if back != naive:  # midnight did not exist: the day starts at the gap's end
        local = (naive + timedelta(hours=1)).replace(tzinfo=tz)
    return local.astimezone(UTC)


def local_today(now: datetime, zone: str) -> date:
    """The merchant's calendar day at ``now``."""
    return now.astimezone(check_zone(zone)).date()


def age_cutoffs(now: datetime) -> list[datetime]:
    """For each age band after the first, the earning time at or before which a lot is in
    it or an older one (a lot earned 31 full days before ``now`` is 31 days old)."""
    return [now - timedelta(days=first) for _label, first, _last in AGE_BANDS[1:]]


def month_starts(now: datetime, zone: str, count: int = EXPIRY_MONTHS) -> list[date]:
    """The first days of this month (in ``zone``) and the ``count - 1`` after it, then the
    month after those (where "later" begins)."""
    today = local_today(now, zone)
    months = []
    year, month = today.year, today.month
    for _ in range(count + 1):
        months.append(date(year, month, 1))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


#: What each kind of entry counts as on the dashboard; ``adjust`` depends on its sign.
SERIES_OF_KIND = {
    EntryKind.EARN: "issued",
    EntryKind.MIGRATION: "issued",
    EntryKind.REDEEM: "redeemed",
    EntryKind.HOLD: "redeemed",
    EntryKind.RELEASE: "redeemed",
    EntryKind.EXPIRE: "expired",
    EntryKind.REVERSE: "corrections",
    # Points moving between two customers: each pair sums to zero for the merchant.
    EntryKind.TRANSFER: "corrections",
    EntryKind.TRANSFER_IN: "corrections",
    EntryKind.MERGE_OUT: "corrections",
    EntryKind.MERGE_IN: "corrections",
}
#: The dashboard's weekly series, in the order shown.
SERIES = ("issued", "redeemed", "expired", "corrections")


def series_of(kind: EntryKind | str, credit: bool) -> str:
    """Which weekly series an entry of ``kind`` counts in (a credit adjustment is issued,
    a debit one a correction)."""
    kind = EntryKind(kind)
    if kind is EntryKind.ADJUST:
        return "issued" if credit else "corrections"
    return SERIES_OF_KIND.get(kind, "corrections")


def shown_points(series: str, points: int) -> int:
    """Points as a series shows them: redeemed and expired as positive numbers, issued
    and corrections with their sign."""
    return -points if series in ("redeemed", "expired") else points


def ratio(part: int, whole: int) -> Decimal | None:
    """``part / whole`` to four decimal places, or ``None`` when ``whole`` is not positive."""
    if whole <= 0:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"))
