"""Aging: the open points by how old they are and by the month they expire, per group.

Open points are what is left in lots that have not reached their expiry (the dashboard's
outstanding points). A lot's age is counted in whole days since it was earned; its expiry
month is the calendar month of ``expires_at`` in the merchant's time zone. Four queries
whatever the data size: the merchant, the totals, the rows of one page, and how many rows
there are. The lots are summed per account first (from the open lots' index alone), and
only those sums are joined to the customers.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, case, func, literal, literal_column, select
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
from loyalty_plugin.services.reports.calendar import bucket, instant
from loyalty_plugin.services.reports.dashboard import open_lots

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
    sums = _sums(now, [local_midnight(day, zone) for day in starts])
    lots = select().select_from(Lot).where(open_lots(merchant_id, now))
    totals = session.execute(lots.add_columns(*sums)).one()
    # Summed per account first (from the open lots' index alone), then joined to customers.
    per_account = (
        lots.add_columns(
            Lot.account_id.label("account_id"),
            func.sum(Lot.remaining).label("total"),
            *(column.label(f"s{n}") for n, column in enumerate(sums)),
        )
        .group_by(Lot.account_id)
        .subquery("per_account")
    )
    figures = [per_account.c[f"s{n}"] for n in range(len(sums))]
    if by is AgingBy.CUSTOMER:
        rows, count = _per_customer(session, per_account, figures, page)
    else:
        rows, count = _per_field(session, per_account, figures, by, page)
    return AgingReport(
        by=by,
        now=now,
        months=[f"{day:%Y-%m}" for day in starts[:EXPIRY_MONTHS]],
        totals=_row(None, None, totals),
        rows=[_row(r[0], r[1], r[2:]) for r in rows],
        page=page,
        row_count=count,
    )


def _per_customer(
    session: Session, per_account: Any, figures: list[Any], page: int
) -> tuple[list[Any], int]:
    """One page of customers (an account is a customer's), biggest first, and how many."""
    top = (
        select(per_account)
        .order_by(per_account.c.total.desc(), per_account.c.account_id)
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
        .subquery("top")
    )
    name = Customer.first_name + literal(" ") + func.coalesce(Customer.last_name, "")
    query = (
        select(Customer.host_customer_id, name, *(top.c[f.name] for f in figures))
        .select_from(top)
        .join(Account, Account.id == top.c.account_id)
        .join(Customer, Customer.id == Account.customer_id)
        .order_by(top.c.total.desc(), top.c.account_id)
    )
    count = session.scalar(select(func.count()).select_from(per_account))
    return list(session.execute(query)), int(count or 0)


def _per_field(
    session: Session, per_account: Any, figures: list[Any], by: AgingBy, page: int
) -> tuple[list[Any], int]:
    """One page of customer groups or cards (customers without one share a row)."""
    if by is AgingBy.GROUP:
        key, name = Customer.customer_group, func.min(Customer.customer_group)
    else:
        key, name = Customer.card_number, func.min(Customer.host_customer_id)
    joined = (
        select()
        .select_from(per_account)
        .join(Account, Account.id == per_account.c.account_id)
        .join(Customer, Customer.id == Account.customer_id)
    )
    query = (
        joined.add_columns(key, name, *(func.sum(f) for f in figures))
        .group_by(key)
        .order_by(func.sum(per_account.c.total).desc(), key.is_(None), key)
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    )
    keys = joined.add_columns(key).group_by(key).subquery()
    count = session.scalar(select(func.count()).select_from(keys))
    return list(session.execute(query)), int(count or 0)


def _sums(now: datetime, month_bounds: list[datetime]) -> list[ColumnElement[int]]:
    """One sum per age band, per expiry month, for "later" and for "never"."""
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

    def total_where(column: ColumnElement[int], n: int) -> ColumnElement[int]:
        return func.coalesce(func.sum(case((column == n, Lot.remaining), else_=0)), 0)

    return [total_where(band, n) for n in range(len(AGE_BANDS))] + [
        total_where(month, n) for n in range(EXPIRY_MONTHS + 2)
    ]


def _row(key: Any, name: Any, sums: Any) -> AgingRow:
    values = [int(v) for v in sums]
    return AgingRow(
        key=key,
        name=name.strip() if isinstance(name, str) else name,
        bands=values[: len(AGE_BANDS)],
        expiry=values[len(AGE_BANDS) :],
    )
