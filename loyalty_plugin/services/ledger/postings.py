"""Postings: what every ledger operation writes, and the lots it reads to write it.

One entry with its allocations (the points it moves in or out of lots), a new lot, the
idempotency replay of an earlier call, and the spending order of lots. Shared by the
operations of :mod:`.entries` and :mod:`.transfers`; callers lock the account first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, case, event, select
from sqlalchemy.orm import Mapper, Session, object_session
from sqlalchemy.orm.attributes import flag_modified, get_history

from loyalty_plugin.domain import ledger as rules
from loyalty_plugin.domain.errors import IdempotencyConflict, ValidationError
from loyalty_plugin.domain.ledger import Allocation as Move
from loyalty_plugin.domain.ledger import EntryKind, LotView
from loyalty_plugin.domain.money import check_currency, check_money
from loyalty_plugin.models import Account, Allocation, LedgerEntry, Lot
from loyalty_plugin.services.memo import recall, remember

#: Memo key of the time of the last ledger operation on an account in this transaction.
_OPERATION_TIME = "account operation time"


@dataclass(frozen=True, slots=True)
class Reference:
    """The host object an entry is about: an invoice, a payment, a coupon..."""

    type: str
    id: str


@dataclass(frozen=True, slots=True)
class Money:
    """An amount with its currency, checked to be ``Decimal`` and ISO 4217."""

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        check_money(self.amount)
        object.__setattr__(self, "currency", check_currency(self.currency))


def check_clock(now: datetime) -> None:
    if not isinstance(now, datetime) or now.tzinfo is None:
        raise ValidationError("the clock must give an aware datetime", field="now")


def replayed(
    session: Session, merchant_id: str, key: str | None, request_hash: str
) -> LedgerEntry | None:
    """The entry an earlier call with this key wrote, if the request is the same."""
    if key is None:
        return None
    if not key.strip() or len(key) > 255:
        raise ValidationError(
            "idempotency key must be 1 to 255 characters", field="idempotency_key"
        )
    existing = session.scalars(
        select(LedgerEntry).where(
            LedgerEntry.merchant_id == merchant_id, LedgerEntry.idempotency_key == key
        )
    ).one_or_none()
    if existing is None:
        return None
    if existing.request_hash != request_hash:
        raise IdempotencyConflict(key)
    return existing


def spendable(account_id: int, now: datetime) -> tuple[Any, ...]:
    """The conditions of a lot the account can spend from at ``now``."""
    return (
        Lot.account_id == account_id,
        Lot.holds_points,
        Lot.available_from <= now,
        (Lot.expires_at.is_(None)) | (Lot.expires_at > now),
    )


#: Lots read first for a spend; most spends are covered by the soonest-expiring few.
FIRST_LOTS = 64


def take_fifo(session: Session, account_id: int, now: datetime, points: int) -> list[Move]:
    """Allocate ``points`` in spending order, reading only as many lots as it needs.

    The database sorts the spendable lots in :func:`rules.spending_order`; a first page
    usually covers the spend, so an account with thousands of lots is not read whole.
    """
    query = in_spending_order(
        select(Lot.id, Lot.remaining, Lot.earned_at, Lot.expires_at), account_id, now
    )
    lots = [LotView(*row) for row in session.execute(query.limit(FIRST_LOTS))]
    if len(lots) == FIRST_LOTS and sum(lot.remaining for lot in lots) < points:
        lots = [LotView(*row) for row in session.execute(query)]
    return rules.allocate_fifo(lots, points)


def in_spending_order(query: Select[Any], account_id: int, now: datetime) -> Select[Any]:
    """``query`` over the account's spendable lots, in :func:`rules.spending_order`."""
    return query.where(*spendable(account_id, now)).order_by(
        case((Lot.expires_at.is_(None), 1), else_=0), Lot.expires_at, Lot.earned_at, Lot.id
    )


def spendable_lots(session: Session, account_id: int, now: datetime) -> list[LotView]:
    rows = session.execute(
        select(Lot.id, Lot.remaining, Lot.earned_at, Lot.expires_at).where(
            *spendable(account_id, now)
        )
    )
    return [LotView(*row) for row in rows]


def append_entry(
    session: Session,
    account: Account,
    *,
    kind: EntryKind,
    points: int,
    now: datetime,
    actor: str,
    money: Money | None = None,
    reference: Reference | None = None,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
    request_hash: str | None = None,
    moves: list[Move] = (),  # type: ignore[assignment]
    reverses: LedgerEntry | None = None,
) -> LedgerEntry:
    """Write one entry and its allocations, and move the balance and lots with it."""
    if not actor:
        raise ValidationError("an actor is required", field="actor")
    account.balance += points
    # Written with the balance: one UPDATE of the account. A later change to the account in
    # this transaction writes this time too (see _keep_operation_time), not the wall clock
    # of onupdate.
    account.updated_at = now
    remember(session, (_OPERATION_TIME, account.id), now)
    entry = LedgerEntry(
        merchant_id=account.merchant_id,
        account_id=account.id,
        unit=account.unit,
        kind=kind,
        points=points,
        balance_after=account.balance,
        amount=money.amount if money else None,
        currency=money.currency if money else None,
        reference_type=reference.type if reference else None,
        reference_id=reference.id if reference else None,
        idempotency_key=idempotency_key,
        request_hash=request_hash,
        actor=actor,
        reason=reason,
        details=details,
        reverses_entry_id=reverses.id if reverses else None,
        created_at=now,
    )
    session.add(entry)
    session.flush()
    apply_moves(session, entry, moves)
    return entry


@event.listens_for(Account, "before_update")
def _keep_operation_time(_mapper: Mapper[Account], _connection: Any, account: Account) -> None:
    """An account changed again after a ledger operation of the same transaction (a
    counter, the debt) is stamped with the operation's time, not onupdate's wall clock."""
    session = object_session(account)
    when = None if session is None else recall(session, (_OPERATION_TIME, account.id))
    if when is None or get_history(account, "updated_at").added:
        return
    if session is not None and session.is_modified(account, include_collections=False):
        account.updated_at = when
        flag_modified(account, "updated_at")


def apply_moves(session: Session, entry: LedgerEntry, moves: list[Move]) -> None:
    if not moves:
        return
    lots = {
        lot.id: lot
        for lot in session.scalars(select(Lot).where(Lot.id.in_({m.lot_id for m in moves})))
    }
    for move in moves:
        lot = lots[move.lot_id]
        lot.remaining += move.points
        if not 0 <= lot.remaining <= lot.points:
            raise AssertionError(f"lot {lot.id} would hold {lot.remaining} of {lot.points}")
        session.add(
            Allocation(
                merchant_id=entry.merchant_id, entry_id=entry.id, lot_id=lot.id, points=move.points
            )
        )


def open_lot(
    session: Session,
    entry: LedgerEntry,
    *,
    now: datetime,
    expires_at: datetime | None,
    available_from: datetime | None,
    level: str | None = None,
    points: int | None = None,
) -> Lot:
    """The lot ``entry`` creates: all its points, or ``points`` of them."""
    points = entry.points if points is None else points
    lot = Lot(
        merchant_id=entry.merchant_id,
        account_id=entry.account_id,
        entry_id=entry.id,
        unit=entry.unit,
        points=points,
        remaining=points,
        earned_at=now,
        available_from=available_from or now,
        expires_at=expires_at,
        level=level,
    )
    session.add(lot)
    return lot


def open_lots(session: Session, account_id: int, now: datetime) -> list[LotView]:
    """Lots holding points that have not expired, pending ones included."""
    rows = session.execute(
        select(Lot.id, Lot.remaining, Lot.earned_at, Lot.expires_at).where(
            Lot.account_id == account_id,
            Lot.holds_points,
            (Lot.expires_at.is_(None)) | (Lot.expires_at > now),
        )
    )
    return [LotView(*row) for row in rows]


def with_debt_change(details: dict[str, Any] | None, change: int) -> dict[str, Any] | None:
    """``details`` noting how the entry changed the account's debt (if it did)."""
    if not change:
        return details
    return {**(details or {}), "debt_change": change}
