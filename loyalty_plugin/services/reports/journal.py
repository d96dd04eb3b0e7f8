"""The points journal: every ledger entry of a merchant, filtered, newest first, in keyset pages.

A page is read with ``id < before`` (the last id of the page before), never with an offset,
so page 5,000 costs what page 1 does; the CSV export walks the same query page by page.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, false, select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.errors import ValidationError
from loyalty_plugin.domain.ledger import EntryKind
from loyalty_plugin.domain.reports import local_midnight
from loyalty_plugin.models import Account, Customer, LedgerEntry
from loyalty_plugin.services.cards.holders import card_holder
from loyalty_plugin.services.ledger.accounts import get_merchant
from loyalty_plugin.services.ledger.units import points_only
from loyalty_plugin.services.reports.calendar import instant

#: Entries per page unless asked otherwise, and the most a page may hold.
PAGE_SIZE, MAX_PAGE_SIZE = 50, 500
#: Entries read per query by :func:`journal_rows` (an export).
BATCH = 1000


@dataclass(frozen=True, kw_only=True)
class JournalFilter:
    """Which entries: every field left ``None`` does not filter."""

    kind: EntryKind | None = None
    #: First and last calendar day (merchant time), both included.
    first: date | None = None
    last: date | None = None
    #: The host's customer id.
    customer_id: str | None = None
    #: A card number: the entries of the customer it was given to (whatever its status
    #: now), or of the customer the host gave that ``card_number``.
    card: str | None = None
    #: The host's customer group.
    group: str | None = None
    #: A program's key, as stored with the entries it earned.
    program: str | None = None

    @classmethod
    def parse(cls, args: dict[str, Any]) -> JournalFilter:
        """A filter from already-typed arguments (``kind`` as text is checked here)."""
        kind = args.get("kind") or None
        if kind is not None and kind not in set(EntryKind):
            raise ValidationError(f"unknown kind {kind!r}", field="kind")
        texts = {k: (args.get(k) or None) for k in ("customer_id", "card", "group", "program")}
        return cls(
            kind=EntryKind(kind) if kind else None,
            first=args.get("first"),
            last=args.get("last"),
            **texts,
        )


@dataclass(frozen=True, kw_only=True)
class JournalRow:
    """One entry as the journal shows it, with its customer."""

    id: int
    created_at: datetime
    kind: str
    points: int
    balance_after: int
    customer_id: str
    customer_name: str
    card: str | None
    group: str | None
    program: str | None
    reference_type: str | None
    reference_id: str | None
    amount: Decimal | None
    currency: str | None
    actor: str
    reason: str | None


@dataclass(frozen=True, kw_only=True)
class JournalPage:
    """One page of rows, and the id to pass as ``before`` for the next (``None``: last)."""

    rows: list[JournalRow]
    next_before: int | None


def journal_page(
    session: Session,
    *,
    merchant_id: str,
    where: JournalFilter,
    before: int | None = None,
    limit: int = PAGE_SIZE,
) -> JournalPage:
    """One page of the journal, newest entry first."""
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValidationError(f"a page holds 1 to {MAX_PAGE_SIZE} entries", field="limit")
    query = journal_query(session, merchant_id=merchant_id, where=where)
    rows = _read(session, query, before=before, limit=limit + 1)
    more = len(rows) > limit
    return JournalPage(rows=rows[:limit], next_before=rows[limit - 1].id if more else None)


def journal_rows(
    session: Session, *, merchant_id: str, where: JournalFilter, batch: int = BATCH
) -> Iterator[JournalRow]:
    """Every entry the filter selects, newest first, read ``batch`` at a time as consumed.

    The filter is checked now; the pages are read as the rows are taken.
    """
    return _pages(session, journal_query(session, merchant_id=merchant_id, where=where), batch)


def _pages(session: Session, query: Select[Any], batch: int) -> Iterator[JournalRow]:
    before = None
    while True:
        rows = _read(session, query, before=before, limit=batch)
        yield from rows
        if len(rows) < batch:
            return
        before = rows[-1].id


def journal_query(session: Session, *, merchant_id: str, where: JournalFilter) -> Select[Any]:
    """The entries of ``merchant_id`` that ``where`` selects, newest first (not yet paged)."""
    program = LedgerEntry.details["program"]["key"].as_string()
    query = (
        select(*_COLUMNS, program.label("program"))
        .join(Account, Account.id == LedgerEntry.account_id)
        .join(Customer, Customer.id == Account.customer_id)
        .where(LedgerEntry.merchant_id == merchant_id, points_only(LedgerEntry))
        .order_by(LedgerEntry.id.desc())
    )
    query = _in_days(session, query, merchant_id=merchant_id, where=where)
    equal = (
        (LedgerEntry.kind, where.kind),
        (Customer.host_customer_id, where.customer_id),
        (Customer.customer_group, where.group),
        (program, where.program),
    )
    for column, wanted in equal:
        if wanted is not None:
            query = query.where(column == wanted)
    if where.card is not None:
        holder = card_holder(session, merchant_id, where.card)
        query = query.where(Customer.id == holder.id if holder else false())
    return query


def _in_days(
    session: Session, query: Select[Any], *, merchant_id: str, where: JournalFilter
) -> Select[Any]:
    """``query`` limited to the filter's days, in the merchant's time zone."""
    if where.first is None and where.last is None:
        return query
    if where.first and where.last and where.first > where.last:
        raise ValidationError("the first day is after the last", field="from")
    zone = get_merchant(session, merchant_id).timezone or "UTC"
    if where.first is not None:
        query = query.where(LedgerEntry.created_at >= instant(local_midnight(where.first, zone)))
    if where.last is not None:
        end = local_midnight(where.last + timedelta(days=1), zone)
        query = query.where(LedgerEntry.created_at < instant(end))
    return query


#: What a journal row reads: the entry's columns and its customer's.
_COLUMNS = (
    LedgerEntry.id,
    LedgerEntry.created_at,
    LedgerEntry.kind,
    LedgerEntry.points,
    LedgerEntry.balance_after,
    Customer.host_customer_id.label("customer_id"),
    Customer.first_name,
    Customer.last_name,
    Customer.card_number.label("card"),
    Customer.customer_group.label("group"),
    LedgerEntry.reference_type,
    LedgerEntry.reference_id,
    LedgerEntry.amount,
    LedgerEntry.currency,
    LedgerEntry.actor,
    LedgerEntry.reason,
)


def _read(
    session: Session, query: Select[Any], *, before: int | None, limit: int
) -> list[JournalRow]:
    if before is not None:
        query = query.where(LedgerEntry.id < before)
    return [_row(found._mapping) for found in session.execute(query.limit(limit))]


def _row(found: Any) -> JournalRow:
    values = dict(found)
    first, last = values.pop("first_name"), values.pop("last_name")
    values["customer_name"] = " ".join(part for part in (first, last) if part)
    values["kind"] = str(values["kind"])
    return JournalRow(**values)
