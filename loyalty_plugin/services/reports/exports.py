"""CSV exports: customers, the journal and the liability, produced one line at a time.

Each export is a generator of CSV lines. It reads the database in keyset pages of
:data:`BATCH` rows as the lines are consumed, so a million rows never sit in memory and a
web response can stream them. Text cells that a spreadsheet would run as a formula
(starting with ``=``, ``+``, ``-``, ``@``) are prefixed with ``'``.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.money import quantize
from loyalty_plugin.domain.reports import SERIES, Period, series_of, shown_points
from loyalty_plugin.models import Account, Customer, LedgerEntry
from loyalty_plugin.services.ledger.accounts import get_merchant
from loyalty_plugin.services.ledger.units import points_only
from loyalty_plugin.services.reports.calendar import instant, merchant_period
from loyalty_plugin.services.reports.dashboard import point_value
from loyalty_plugin.services.reports.journal import BATCH, JournalFilter, journal_rows

CUSTOMER_COLUMNS = (
    "customer_id", "customer_number", "first_name", "last_name", "email", "phone", "card",
    "group", "enrolled", "email_opt_in", "sms_opt_in", "created_at", "balance",
    "lifetime_earned", "lifetime_redeemed", "lifetime_expired",
)  # fmt: skip
JOURNAL_COLUMNS = (
    "entry_id", "created_at", "kind", "points", "balance_after", "customer_id",
    "customer_name", "card", "group", "program", "reference_type", "reference_id",
    "amount", "currency", "actor", "reason",
)  # fmt: skip
LIABILITY_COLUMNS = (
    "customer_id", "customer_name", "opening_points", *SERIES, "closing_points",
    "closing_value", "currency",
)  # fmt: skip


def customers_csv(
    session: Session,
    *,
    merchant_id: str,
    now: datetime,
    first: date | None = None,
    last: date | None = None,
    batch: int = BATCH,
) -> Iterator[str]:
    """Every customer (with ``first``/``last``: those created in those days) and their
    points, by id."""
    span = _span(session, merchant_id, first, last, now) if first or last else None
    return csv_lines(CUSTOMER_COLUMNS, _customers(session, merchant_id, span, batch))


def journal_csv(
    session: Session, *, merchant_id: str, where: JournalFilter, batch: int = BATCH
) -> Iterator[str]:
    """The journal's entries that ``where`` selects, newest first."""
    rows = journal_rows(session, merchant_id=merchant_id, where=where, batch=batch)
    return csv_lines(
        JOURNAL_COLUMNS,
        (
            (r.id, _time(r.created_at), r.kind, r.points, r.balance_after, r.customer_id,
             r.customer_name, r.card, r.group, r.program, r.reference_type, r.reference_id,
             r.amount, r.currency, r.actor, r.reason)
            for r in rows
        ),
    )  # fmt: skip


def liability_csv(
    session: Session,
    *,
    merchant_id: str,
    now: datetime,
    first: date | None = None,
    last: date | None = None,
    batch: int = BATCH,
) -> Iterator[str]:
    """Per customer: points at the start of the period, each series in it, points at its end
    and their value. Customers with nothing to show are left out."""
    span = _span(session, merchant_id, first, last, now)
    return csv_lines(LIABILITY_COLUMNS, _liability(session, merchant_id, span, batch))


def csv_lines(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """The header line, then one line per row, each produced when asked for."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for cells in itertools.chain((header,), rows):
        writer.writerow([_cell(value) for value in cells])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _time(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _span(
    session: Session, merchant_id: str, first: date | None, last: date | None, now: datetime
) -> Period:
    return merchant_period(session, merchant_id=merchant_id, first=first, last=last, now=now)[1]


def _customers(
    session: Session, merchant_id: str, span: Period | None, batch: int
) -> Iterator[tuple[Any, ...]]:
    # Columns, not entities: nothing read is kept in the session's identity map.
    points = (Account.balance, Account.lifetime_earned, Account.lifetime_redeemed,
              Account.lifetime_expired)  # fmt: skip
    query = (
        select(*_CUSTOMER_FIELDS, *(func.coalesce(column, 0) for column in points))
        .outerjoin(Account, (Account.customer_id == Customer.id) & points_only(Account))
        .where(Customer.merchant_id == merchant_id)
        .order_by(Customer.id)
        .limit(batch)
    )
    if span is not None:
        query = query.where(
            Customer.created_at >= instant(span.starts_at),
            Customer.created_at < instant(span.ends_at),
        )
    after = 0
    while True:
        page = session.execute(query.where(Customer.id > after)).all()
        for row in page:
            yield (*row[1:12], _time(row[12]), *row[13:])
        if len(page) < batch:
            return
        after = page[-1][0]


#: The customer's columns of customers.csv (after its id, which pages the query).
_CUSTOMER_FIELDS = (
    Customer.id, Customer.host_customer_id, Customer.customer_number, Customer.first_name,
    Customer.last_name, Customer.email, Customer.phone, Customer.card_number,
    Customer.customer_group, Customer.enrolled, Customer.email_opt_in, Customer.sms_opt_in,
    Customer.created_at,
)  # fmt: skip


def _liability(
    session: Session, merchant_id: str, span: Period, batch: int
) -> Iterator[tuple[Any, ...]]:
    value = point_value(session, merchant_id)
    merchant_currency = get_merchant(session, merchant_id).currency
    accounts = (
        select(Account.id, Customer.host_customer_id, Customer.first_name, Customer.last_name)
        .join(Customer, Customer.id == Account.customer_id)
        .where(Account.merchant_id == merchant_id, points_only(Account))
        .order_by(Account.id)
        .limit(batch)
    )
    after = 0
    while True:
        page = session.execute(accounts.where(Account.id > after)).all()
        if not page:
            return
        sums = _account_sums(session, merchant_id, span, page[0][0], page[-1][0])
        for account_id, customer_id, first_name, last_name in page:
            figures = sums.get(account_id)
            if figures is None:
                continue
            closing = figures["opening"] + sum(
                (-1 if s in ("redeemed", "expired") else 1) * figures[s] for s in SERIES
            )
            name = " ".join(part for part in (first_name, last_name) if part)
            yield (
                customer_id, name, figures["opening"], *(figures[s] for s in SERIES), closing,
                quantize(value.money(closing), merchant_currency), merchant_currency,
            )  # fmt: skip
        if len(page) < batch:
            return
        after = page[-1][0]


def _account_sums(
    session: Session, merchant_id: str, span: Period, first_id: int, last_id: int
) -> dict[int, dict[str, int]]:
    """Opening points and each series in the period, for the accounts ``first_id`` to
    ``last_id``: one query grouped by account, kind, sign and before/inside."""
    before = case((LedgerEntry.created_at < instant(span.starts_at), 1), else_=0)
    rows = (
        select(
            LedgerEntry.account_id.label("account_id"),
            LedgerEntry.kind.label("kind"),
            (LedgerEntry.points > 0).label("credit"),
            before.label("before"),
            LedgerEntry.points.label("points"),
        )
        .where(
            LedgerEntry.merchant_id == merchant_id,
            points_only(LedgerEntry),
            and_(LedgerEntry.account_id >= first_id, LedgerEntry.account_id <= last_id),
            LedgerEntry.created_at < instant(span.ends_at),
        )
        .subquery()
    )
    grouped = select(
        rows.c.account_id, rows.c.kind, rows.c.credit, rows.c.before, func.sum(rows.c.points)
    ).group_by(rows.c.account_id, rows.c.kind, rows.c.credit, rows.c.before)
    sums: dict[int, dict[str, int]] = {}
    for account_id, kind, credit, is_before, total in session.execute(grouped):
        figures = sums.setdefault(account_id, dict.fromkeys(("opening", *SERIES), 0))
        if is_before:
            figures["opening"] += int(total)
        else:
            series = series_of(kind, bool(credit))
            figures[series] += shown_points(series, int(total))
    return sums
