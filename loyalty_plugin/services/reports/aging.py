"""Aging: the open points by how old they are and by the month they expire, per group.

Open points are what is left in lots that have not reached their expiry (the dashboard's
outstanding points). A lot's age is counted in whole days since it was earned; its expiry
month is the calendar month of ``expires_at`` in the merchant's time zone. A fixed number
of queries whatever the data size: the merchant; the totals (:mod:`.aging_totals`, from
the points kept per earning and expiry day); the page's keys ranked by their open points
with how many rows there are; the figures of those keys alone; and for customers, their
names. Customers and cards are ranked from the points kept per account (:mod:`.ranking`),
and the bands and months are worked out for the lots of the page's rows only. Groups are
few: every group's figures come from the points kept per group (:mod:`.aging_groups`), and
their ranking and the totals are added up from them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    case,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
)
from sqlalchemy.orm import Session

from loyalty_plugin.domain.errors import ValidationError
from loyalty_plugin.domain.reports import (
    AGE_BANDS,
    EXPIRY_MONTHS,
    age_cutoffs,
    local_midnight,
    month_starts,
)
from loyalty_plugin.models import Account, Customer, Lot
from loyalty_plugin.services.ledger.accounts import get_merchant
from loyalty_plugin.services.reports.aging_groups import group_figures
from loyalty_plugin.services.reports.aging_totals import aging_totals
from loyalty_plugin.services.reports.calendar import bucket, instant
from loyalty_plugin.services.reports.dashboard import open_lots
from loyalty_plugin.services.reports.ranking import ranked_accounts, ranked_cards

#: Rows per page of an aging report.
PAGE_SIZE = 50


class AgingBy(enum.StrEnum):
    """What one row of the report is about."""

    GROUP = "group"
    CUSTOMER = "customer"
    CARD = "card"


@dataclass(frozen=True, kw_only=True)
class AgingRow:
    """Open points of one group, customer or card (``key`` ``None``: none set)."""

    key: str | None
    name: str | None
    #: Points per age band, in the order of :data:`AGE_BANDS`.
    bands: list[int]
    #: Points per expiry month (:attr:`AgingReport.months`), then "later", then "never".
    expiry: list[int]

    @property
    def total(self) -> int:
        return sum(self.bands)


@dataclass(frozen=True, kw_only=True)
class AgingReport:
    """The totals, one page of rows, and how the columns are labelled."""

    by: AgingBy
    now: datetime
    #: ``YYYY-MM`` of each expiry month listed one by one.
    months: list[str]
    totals: AgingRow
    rows: list[AgingRow]
    page: int
    row_count: int

    @property
    def bands(self) -> list[str]:
        return [label for label, _first, _last in AGE_BANDS]

    @property
    def pages(self) -> int:
        return max(1, -(-self.row_count // PAGE_SIZE))


def aging(
    session: Session, *, merchant_id: str, now: datetime, by: AgingBy | str, page: int = 1
) -> AgingReport:
    """The aging report of ``merchant_id`` at ``now``, one row per ``by``, biggest first."""
    try:
        by = AgingBy(by)
    except ValueError:
        raise ValidationError("group by group, customer or card", field="by") from None
    if page < 1:
        raise ValidationError("pages start at 1", field="page")
    zone = get_merchant(session, merchant_id).timezone or "UTC"
    starts = month_starts(now, zone)
    months = [f"{day:%Y-%m}" for day in starts[:EXPIRY_MONTHS]]
    if by is AgingBy.GROUP:
        return _by_group(session, merchant_id=merchant_id, zone=zone, now=now, page=page,
                         months=months)  # fmt: skip
    cells = _cells(now, [local_midnight(day, zone) for day in starts])
    lots = select().select_from(Lot).where(open_lots(merchant_id, now))
    totals = aging_totals(session, merchant_id=merchant_id, zone=zone, now=now)
    rank = ranked_accounts if by is AgingBy.CUSTOMER else ranked_cards
    key = Lot.account_id if by is AgingBy.CUSTOMER else Customer.card_number
    found, count = rank(
        session, merchant_id=merchant_id, zone=zone, now=now, page=page, size=PAGE_SIZE
    )
    rows = _page_rows(session, lots, by, key, cells, found)
    return AgingReport(
        by=by,
        now=now,
        months=months,
        totals=_row(None, None, totals),
        rows=rows,
        page=page,
        row_count=int(count or 0),
    )


def _page_rows(
    session: Session, lots: Any, by: AgingBy, key: Any, cells: list[Any], found: list[Any]
) -> list[AgingRow]:
    """The figures of the rows on the page only, read from their lots."""
    if not found:
        return []
    keys = [row.key for row in found]
    known = [k for k in keys if k is not None]
    chosen = or_(key.in_(known) if known else false(), key.is_(None) if None in keys else false())
    query = lots.add_columns(key.label("key"), *cells, _points()).where(chosen)
    if by is not AgingBy.CUSTOMER:
        query = query.join(Account, Account.id == Lot.account_id).join(
            Customer, Customer.id == Account.customer_id
        )
    per_key: dict[Any, list[int]] = {k: [0] * (len(AGE_BANDS) + EXPIRY_MONTHS + 2) for k in keys}
    for k, band, month, points in session.execute(query.group_by(key, *cells)):
        figures = per_key[k]
        figures[int(band)] += int(points)
        figures[len(AGE_BANDS) + int(month)] += int(points)
    if by is AgingBy.CUSTOMER:
        names = {
            account_id: (host_id, name)
            for account_id, host_id, name in session.execute(
                select(
                    Account.id,
                    Customer.host_customer_id,
                    Customer.first_name + literal(" ") + func.coalesce(Customer.last_name, ""),
                )
                .join(Customer, Customer.id == Account.customer_id)
                .where(Account.id.in_(keys))
            )
        }
        return [_row(*names[k], per_key[k]) for k in keys]
    return [_row(row.key, row.name, per_key[row.key]) for row in found]


def _by_group(
    session: Session, *, merchant_id: str, zone: str, now: datetime, page: int, months: list[str]
) -> AgingReport:
    """Every group's figures at once (:mod:`.aging_groups`): ranked, paged and totalled."""
    figures = group_figures(session, merchant_id=merchant_id, zone=zone, now=now)
    ranked = sorted(figures.items(), key=_biggest_first)
    width = len(AGE_BANDS) + EXPIRY_MONTHS + 2
    totals = [sum(sums[n] for sums in figures.values()) for n in range(width)]
    shown = ranked[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    return AgingReport(
        by=AgingBy.GROUP,
        now=now,
        months=months,
        totals=_row(None, None, totals),
        rows=[_row(group, group, sums) for group, sums in shown],
        page=page,
        row_count=len(ranked),
    )


def _biggest_first(item: tuple[str | None, list[int]]) -> tuple[int, bool, str]:
    group, sums = item
    return -sum(sums[: len(AGE_BANDS)]), group is None, group or ""


def _points() -> ColumnElement[int]:
    return func.coalesce(func.sum(Lot.remaining), 0)


def _cells(now: datetime, month_bounds: list[datetime]) -> list[ColumnElement[int]]:
    """A lot's age band (0 to 4) and expiry month (12 months, "later", "never")."""
    cutoffs = age_cutoffs(now)
    band = case(
        *((Lot.earned_at > instant(cut), literal_column(str(n))) for n, cut in enumerate(cutoffs)),
        else_=literal_column(str(len(cutoffs))),
    )
    # Open lots expire after ``now``: the first month's bucket starts at ``now``.
    month = case(
        (Lot.expires_at.is_(None), literal_column(str(EXPIRY_MONTHS + 1))),
        (Lot.expires_at >= instant(month_bounds[-1]), literal_column(str(EXPIRY_MONTHS))),
        else_=bucket(Lot.expires_at, [now, *month_bounds[1:]]),
    )
    return [band.label("band"), month.label("month")]


def _row(key: Any, name: Any, sums: Any) -> AgingRow:
    values = [int(v) for v in sums]
    return AgingRow(
        key=key,
        name=name.strip() if isinstance(name, str) else name,
        bands=values[: len(AGE_BANDS)],
        expiry=values[len(AGE_BANDS) :],
    )
