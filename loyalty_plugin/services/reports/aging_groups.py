"""The aging report per customer group, from the points kept per group and pair of days.

The ``roll-up-reports`` job keeps the points left in the lots of each customer group per
pair of days (earned on, expires on; ``report_group_lot_days``) up to the watermark, each
customer's points in the group it filed them under (``customers.report_group``). A group's
open points of a pair are that figure, plus what the lots and allocations after the
watermark changed (in the group of their entry's customer now), less its lots past their
expiry that the expiry job has not expired yet (only today's are read: a pair expiring on
an earlier day has nothing open); the customers whose group changed since the job filed
them have their kept points moved from the group filed to the group now (their open lots
less the changes after the watermark; found through a partial index).
As for the totals (:mod:`.aging_totals`), the lots earned on the days an age band starts
in are read one by one. Every group's figures come out at once (groups are few), so the
ranking, the page's rows and the totals are all added up from them. No statement reads
every open lot.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, literal, select, union_all
from sqlalchemy.orm import Session

from loyalty_plugin.domain.reports import (
    AGE_BANDS,
    EXPIRY_MONTHS,
    age_cutoffs,
    local_midnight,
    local_today,
    month_starts,
)
from loyalty_plugin.models import Account, Customer, Lot, ReportGroupLotDay
from loyalty_plugin.models.report import NEVER
from loyalty_plugin.services.ledger.units import points_only
from loyalty_plugin.services.reports.aging_totals import add_points, expiry_column, live_lots
from loyalty_plugin.services.reports.calendar import instant
from loyalty_plugin.services.reports.ranking import ATTEMPTS, Pinned, pin_watermark
from loyalty_plugin.services.reports.rollup import (
    group_lot_changes_after,
    kept_of_customers,
    lot_days,
    moved_customers,
)

Group = str | None
Key = tuple[Group, date, date]


def group_figures(
    session: Session, *, merchant_id: str, zone: str, now: datetime
) -> dict[Group, list[int]]:
    """Every group's open points per age band, then per expiry month ("later" and
    "never" last); groups without open points are left out."""
    for _attempt in range(ATTEMPTS):
        figures, still = _figures(session, pin_watermark(session, merchant_id, zone), now)
        if still:
            break
    return figures


def _figures(
    session: Session, pinned: Pinned, now: datetime
) -> tuple[dict[Group, list[int]], bool]:
    """The groups' figures at ``pinned``'s watermark, and whether it stayed put meanwhile."""
    zone = pinned.zone
    today = local_today(now, zone)
    net: dict[Key, int] = defaultdict(int)
    if pinned.mark is not None:
        kept = select(
            ReportGroupLotDay.grouped,
            ReportGroupLotDay.customer_group,
            ReportGroupLotDay.earned_on,
            ReportGroupLotDay.expires_on,
            ReportGroupLotDay.points,
        ).where(
            ReportGroupLotDay.merchant_id == pinned.merchant_id,
            ReportGroupLotDay.points != 0,
            ReportGroupLotDay.expires_on >= today,
        )
        for grouped, group, earned_on, expires_on, points in session.execute(kept):
            net[(group if grouped else None, earned_on, expires_on)] += int(points)
    for moved, now_in, filed_in, earned_at, expires_at, points in session.execute(
        _changes(pinned, now)
    ):
        earned_on, expires_on = lot_days(earned_at, expires_at, zone)
        if expires_on < today:  # every such lot is past its expiry: nothing open
            continue
        net[(now_in, earned_on, expires_on)] += int(points)
        if moved:
            net[(filed_in, earned_on, expires_on)] -= int(points)
    edges = [local_today(cut, zone) for cut in age_cutoffs(now)]
    starts = month_starts(now, zone)
    figures: dict[Group, list[int]] = defaultdict(
        lambda: [0] * (len(AGE_BANDS) + EXPIRY_MONTHS + 2)
    )
    split = sorted({(earned, expires) for _g, earned, expires in net if earned in edges})
    for (group, earned_on, expires_on), points in net.items():
        if earned_on not in edges and points:
            band = next((n for n, edge in enumerate(edges) if earned_on > edge), len(edges))
            add_points(figures[group], band, expiry_column(expires_on, starts), points)
    live = (
        live_lots(pinned, now, split)
        .add_columns(Customer.customer_group)
        .join(Account, Account.id == Lot.account_id)
        .join(Customer, Customer.id == Account.customer_id)
    )
    for earned_at, expires_at, points, group in session.execute(live):
        band = sum(1 for cut in age_cutoffs(now) if earned_at <= cut)
        expires_on = NEVER if expires_at is None else local_today(expires_at, zone)
        add_points(figures[group], band, expiry_column(expires_on, starts), int(points))
    still = bool(session.scalar(select(pinned.still())))
    return {group: sums for group, sums in figures.items() if sum(sums[: len(AGE_BANDS)])}, still


def _changes(pinned: Pinned, now: datetime) -> Any:
    """``(moved, group now, group filed, earned_at, expires_at, points)``: the lots and
    allocations after the watermark and today's lots past their expiry (negative; those
    of earlier days are left out with their pairs), in the group of their customer now;
    and the kept points of the customers whose group changed since the job filed them
    (``moved``: to be taken off the group filed). One statement, one snapshot."""
    merchant_id = pinned.merchant_id
    tail = group_lot_changes_after(merchant_id, pinned.mark or 0).subquery("tail")
    changes = select(
        literal(False).label("moved"),
        tail.c.customer_group,
        literal(None).label("filed"),
        tail.c.earned_at,
        tail.c.expires_at,
        tail.c.points,
    )
    midnight = local_midnight(local_today(now, pinned.zone), pinned.zone)
    overdue = (
        select(
            literal(False),
            Customer.customer_group,
            literal(None),
            Lot.earned_at,
            Lot.expires_at,
            -Lot.remaining,
        )
        .select_from(Lot)
        .join(Account, Account.id == Lot.account_id)
        .join(Customer, Customer.id == Account.customer_id)
        .where(
            Lot.merchant_id == merchant_id,
            points_only(Lot),
            Lot.holds_points,  # a literal 0: PostgreSQL's partial index matches
            Lot.expires_at >= instant(midnight),
            Lot.expires_at <= instant(now),
        )
    )
    if pinned.mark is None:  # nothing kept: nothing to move
        return union_all(changes, overdue)
    moved = and_(Customer.merchant_id == merchant_id, moved_customers())
    kept = kept_of_customers(merchant_id, pinned.mark, moved).subquery("kept")
    return union_all(changes, overdue, select(literal(True), *kept.c))
