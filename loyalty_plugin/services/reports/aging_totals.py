"""The aging report's totals, from the points kept per earning and expiry day.

The ``roll-up-reports`` job keeps the points left in the merchant's lots per pair of days
(earned on, expires on; ``report_lot_days``) up to the watermark. The open points of a
pair are that figure plus what the lots and allocations after the watermark changed, less
the lots past their expiry that the expiry job has not expired yet. A pair falls in one
expiry month, and in one age band unless a band starts on its earning day (a band starts
at an instant, ``now`` less so many days): the lots of those few days are read one by one
(through the open lots' expiry index, a day's range for each pair). No statement reads
every open lot.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, false, or_, select, union_all
from sqlalchemy.orm import Session

from loyalty_plugin.domain.reports import (
    AGE_BANDS,
    EXPIRY_MONTHS,
    age_cutoffs,
    local_midnight,
    local_today,
    month_starts,
)
from loyalty_plugin.models import Lot, ReportLotDay
from loyalty_plugin.models.report import NEVER
from loyalty_plugin.services.ledger.units import points_only
from loyalty_plugin.services.reports.calendar import instant
from loyalty_plugin.services.reports.dashboard import open_lots
from loyalty_plugin.services.reports.ranking import ATTEMPTS, Pinned, pin_watermark
from loyalty_plugin.services.reports.rollup import lot_changes_after, lot_days

Days = tuple[date, date]


def aging_totals(session: Session, *, merchant_id: str, zone: str, now: datetime) -> list[int]:
    """Open points per age band, then per expiry month ("later" and "never" last)."""
    for _attempt in range(ATTEMPTS):
        figures, still = _totals(session, pin_watermark(session, merchant_id, zone), now)
        if still:
            break
    return figures


def _totals(session: Session, pinned: Pinned, now: datetime) -> tuple[list[int], bool]:
    """The totals at ``pinned``'s watermark, and whether it stayed put meanwhile."""
    zone = pinned.zone
    net: dict[Days, int] = defaultdict(int)
    if pinned.mark is not None:
        kept = select(ReportLotDay.earned_on, ReportLotDay.expires_on, ReportLotDay.points).where(
            ReportLotDay.merchant_id == pinned.merchant_id, ReportLotDay.points != 0
        )
        for earned_on, expires_on, points in session.execute(kept):
            net[(earned_on, expires_on)] += int(points)
    for earned_at, expires_at, points in session.execute(_changes(pinned, now)):
        net[lot_days(earned_at, expires_at, zone)] += int(points)
    edges = [local_today(cut, zone) for cut in age_cutoffs(now)]
    starts = month_starts(now, zone)
    figures = [0] * (len(AGE_BANDS) + EXPIRY_MONTHS + 2)
    split = [days for days, points in net.items() if days[0] in edges]
    for (earned_on, expires_on), points in net.items():
        if earned_on not in edges and points:
            band = next((n for n, edge in enumerate(edges) if earned_on > edge), len(edges))
            add_points(figures, band, expiry_column(expires_on, starts), points)
    for earned_at, expires_at, points in session.execute(live_lots(pinned, now, split)):
        band = sum(1 for cut in age_cutoffs(now) if earned_at <= cut)
        expires_on = NEVER if expires_at is None else local_today(expires_at, zone)
        add_points(figures, band, expiry_column(expires_on, starts), int(points))
    return figures, bool(session.scalar(select(pinned.still())))


def _changes(pinned: Pinned, now: datetime) -> Any:
    """The lots and allocations after the watermark, and the overdue lots (negative)."""
    overdue = select(Lot.earned_at, Lot.expires_at, -Lot.remaining).where(
        Lot.merchant_id == pinned.merchant_id,
        points_only(Lot),
        Lot.holds_points,  # a literal 0: PostgreSQL's partial index matches
        Lot.expires_at <= instant(now),
    )
    tail = lot_changes_after(pinned.merchant_id, pinned.mark or 0)
    return union_all(*tail.selects, overdue)


def live_lots(pinned: Pinned, now: datetime, split: list[Days]) -> Any:
    """The open lots of the pairs whose earning day a band starts in, one by one."""
    zone = pinned.zone

    def within(column: Any, day: date) -> Any:
        return and_(
            column >= instant(local_midnight(day, zone)),
            column < instant(local_midnight(day + timedelta(days=1), zone)),
        )

    pairs = [
        and_(
            Lot.expires_at.is_(None) if expires_on == NEVER else within(Lot.expires_at, expires_on),
            within(Lot.earned_at, earned_on),
        )
        for earned_on, expires_on in split
    ]
    return select(Lot.earned_at, Lot.expires_at, Lot.remaining).where(
        open_lots(pinned.merchant_id, now), or_(*pairs) if pairs else false()
    )


def expiry_column(expires_on: date, starts: list[date]) -> int | None:
    """The expiry column of a day: a month listed, "later", "never"; ``None`` if past."""
    if expires_on == NEVER:
        return EXPIRY_MONTHS + 1
    first = expires_on.replace(day=1)
    if first >= starts[-1]:
        return EXPIRY_MONTHS
    return starts.index(first) if first >= starts[0] else None


def add_points(figures: list[int], band: int, month: int | None, points: int) -> None:
    if month is None:
        # Past months: the lots expired already or are overdue, so their points net to 0.
        if points:
            raise AssertionError("open points in a month already past")
        return
    figures[band] += points
    figures[len(AGE_BANDS) + month] += points
