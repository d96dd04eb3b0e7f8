"""Points moving between two accounts of one merchant: a transfer, and a merge's lots.

A **transfer** gives N spendable points from one customer to another. The sender's lots
are spent in the usual order (soonest expiry first, then oldest) by one ``transfer``
entry; the receiver gets one ``transfer_in`` entry and lot per lot the sender gave, with
that lot's earn date, expiry date and level, so the points keep their age and expiry.
The receiver's entries reference the sender's (``reference`` ``transfer``/<sender entry
id>, ``details["transfer"]["from_entry_id"]``) and the sender's names the receiver
(``details["transfer"]``), so each side finds the other.

A **merge** moves *every* lot of the merged customer's account to the survivor's, with
their expiry and history: a ``merge_out`` entry empties the lots (one allocation each), the
lots change account, and a ``merge_in`` entry fills them again. The lots keep their id and
the credit entry that made them, so a later refund of a merged customer's invoice, or the
release of their hold, finds its points on the survivor (``lock_account`` follows
``Account.merged_into_id``). Points owed (``debt``) move with the points, and are
repaid at once from the points either customer brings, as incoming points always repay debt.

Both lock the two accounts in id order, whoever is sender, so two transfers in opposite
directions queue instead of deadlocking.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from loyalty_plugin.domain import ledger as rules
from loyalty_plugin.domain.errors import InvalidOperation, ValidationError
from loyalty_plugin.domain.ledger import Allocation as Move
from loyalty_plugin.domain.ledger import EntryKind, LotView
from loyalty_plugin.domain.points import check_points
from loyalty_plugin.models import Account, LedgerEntry, Lot
from loyalty_plugin.services.ledger.entries import lock_account
from loyalty_plugin.services.ledger.postings import (
    Reference,
    append_entry,
    apply_moves,
    check_clock,
    open_lots,
    replayed,
    take_fifo,
    with_debt_change,
)


@dataclass(frozen=True, kw_only=True)
class Transfer:
    """What a transfer wrote: the sender's entry and the receiver's, one per lot."""

    sent: LedgerEntry
    received: list[LedgerEntry] = field(default_factory=list)
    #: True when an earlier call with the same key wrote them (nothing new was written).
    replayed: bool = False


@dataclass(frozen=True, kw_only=True)
class LotsMoved:
    """What a merge did to the ledger (no entries when the merged account was empty)."""

    out: LedgerEntry | None
    into: LedgerEntry | None
    #: Points moved (the lots' remainders), and points owed that moved with them.
    points: int
    debt: int
    lots: int


def lock_pair(session: Session, first_id: int, second_id: int) -> tuple[Account, Account]:
    """Lock two accounts in id order (never deadlocks); returned in the order asked.

    Each follows a merge to its survivor, so the two may turn out to be the same account.
    """
    low, high = sorted((first_id, second_id))
    locked = {low: lock_account(session, low), high: lock_account(session, high)}
    return locked[first_id], locked[second_id]


def transfer(
    session: Session,
    *,
    from_account_id: int,
    to_account_id: int,
    points: int,
    now: datetime,
    actor: str,
    reason: str,
    idempotency_key: str | None = None,
) -> Transfer:
    """Give ``points`` spendable points of one account to another of the same merchant.

    Raises :class:`InsufficientPoints` (writing nothing) when the sender cannot spend that
    many now; pending and expired points cannot be given.
    """
    check_points(points)
    check_clock(now)
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationError("a reason is required", field="reason")
    request = rules.fingerprint(
        op="transfer", sender=from_account_id, receiver=to_account_id, points=points, reason=reason
    )
    sender, receiver = lock_pair(session, from_account_id, to_account_id)
    if replay := replayed(session, sender.merchant_id, idempotency_key, request):
        return Transfer(sent=replay, received=received_by(session, replay), replayed=True)
    if sender.id == receiver.id:
        raise ValidationError("points cannot be given to the same customer", field="to_customer_id")
    if sender.merchant_id != receiver.merchant_id:
        raise ValidationError(
            "points stay with the merchant they were earned with", field="to_customer_id"
        )
    moves = take_fifo(session, sender.id, now, points)
    sent = append_entry(
        session,
        sender,
        kind=EntryKind.TRANSFER,
        points=-points,
        now=now,
        actor=actor,
        reference=Reference("customer", receiver.customer.host_customer_id),
        reason=reason,
        details={
            "transfer": {
                "to_account_id": receiver.id,
                "to_customer_id": receiver.customer.host_customer_id,
            }
        },
        idempotency_key=idempotency_key,
        request_hash=request,
        moves=moves,
    )
    lots = _lots(session, [move.lot_id for move in moves])
    received = [
        _receive(session, receiver, lots[move.lot_id], -move.points, sent=sent, sender=sender)
        for move in moves
    ]
    return Transfer(sent=sent, received=received)


def lots_to_give(
    session: Session, *, account_id: int, points: int, now: datetime
) -> list[tuple[int, Lot]]:
    """The lots a transfer of ``points`` would take now, and how many from each (no writes).

    Raises :class:`InsufficientPoints` as the transfer would.
    """
    check_points(points)
    moves = take_fifo(session, account_id, now, points)
    lots = _lots(session, [move.lot_id for move in moves])
    return [(-move.points, lots[move.lot_id]) for move in moves]


def received_by(session: Session, sent: LedgerEntry) -> list[LedgerEntry]:
    """The ``transfer_in`` entries written for a ``transfer`` entry, in lot order."""
    return list(
        session.scalars(
            select(LedgerEntry)
            .where(
                LedgerEntry.merchant_id == sent.merchant_id,
                LedgerEntry.reference_type == "transfer",
                LedgerEntry.reference_id == str(sent.id),
            )
            .order_by(LedgerEntry.id)
        )
    )


def _receive(
    session: Session,
    receiver: Account,
    source: Lot,
    points: int,
    *,
    sent: LedgerEntry,
    sender: Account,
) -> LedgerEntry:
    """One ``transfer_in`` entry and its lot, dated as the sender's lot; repays debt first."""
    repaid = min(receiver.debt, points)
    details = {
        "transfer": {
            "from_entry_id": sent.id,
            "from_lot_id": source.id,
            "from_customer_id": sender.customer.host_customer_id,
        }
    }
    entry = append_entry(
        session,
        receiver,
        kind=EntryKind.TRANSFER_IN,
        points=points,
        now=sent.created_at,
        actor=sent.actor,
        reference=Reference("transfer", str(sent.id)),
        reason=sent.reason,
        details=with_debt_change(details, -repaid),
    )
    lot = Lot(
        merchant_id=receiver.merchant_id,
        account_id=receiver.id,
        entry_id=entry.id,
        unit=entry.unit,
        points=points,
        remaining=points,
        earned_at=source.earned_at,
        available_from=source.available_from,
        expires_at=source.expires_at,
        level=source.level,
    )
    session.add(lot)
    if repaid:
        session.flush()
        apply_moves(session, entry, [Move(lot.id, -repaid)])
        receiver.debt -= repaid
    return entry


def move_lots(
    session: Session,
    *,
    merged: Account,
    survivor: Account,
    now: datetime,
    actor: str,
    reason: str,
) -> LotsMoved:
    """Move every lot (and the debt) of ``merged`` to ``survivor``; both locked already.

    Marks ``merged`` as merged into ``survivor`` (and whatever was merged into ``merged``
    before, so a chain is one step). Its lifetime counters move too.
    """
    check_clock(now)
    if merged.id == survivor.id or merged.merchant_id != survivor.merchant_id:
        raise InvalidOperation("a customer can only be merged into another", field="customer_id")
    lots = list(
        session.scalars(
            select(Lot)
            .where(Lot.account_id == merged.id)
            .order_by(Lot.id)
            .execution_options(populate_existing=True)
        )
    )
    full = [(lot, lot.remaining) for lot in lots if lot.remaining > 0]
    points, debt = sum(left for _lot, left in full), merged.debt
    out = into = None
    if points or debt:
        out = append_entry(
            session,
            merged,
            kind=EntryKind.MERGE_OUT,
            points=debt - points,
            now=now,
            actor=actor,
            reference=Reference("customer", survivor.customer.host_customer_id),
            reason=reason,
            details=with_debt_change({"merge": {"into_account_id": survivor.id}}, -debt),
            moves=[Move(lot.id, -left) for lot, left in full],
        )
        merged.debt = 0
    for lot in lots:
        lot.account_id = survivor.id
    if out is not None:
        moves, repaid = _refill(session, survivor, full, survivor.debt + debt, now)
        into = append_entry(
            session,
            survivor,
            kind=EntryKind.MERGE_IN,
            points=points - debt,
            now=now,
            actor=actor,
            reference=Reference("merge", str(out.id)),
            reason=reason,
            details=with_debt_change(
                {"merge": {"from_account_id": merged.id, "from_entry_id": out.id}}, debt - repaid
            ),
            moves=moves,
        )
        survivor.debt += debt - repaid
    _move_counters(merged, survivor)
    merged.merged_into_id = survivor.id
    session.execute(
        update(Account)
        .where(Account.merged_into_id == merged.id)
        .values(merged_into_id=survivor.id)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    return LotsMoved(out=out, into=into, points=points, debt=debt, lots=len(lots))


def _refill(
    session: Session, survivor: Account, full: list[tuple[Lot, int]], owed: int, now: datetime
) -> tuple[list[Move], int]:
    """``merge_in``'s moves: the merged lots refilled, less what repays ``owed`` at once.

    Points that arrive repay debt first, as an earn or a transfer does, whichever of the
    two customers owed it: a survivor never holds spendable points beside points owed.
    Returns the moves (one per lot) and the points repaid.
    """
    net = {lot.id: left for lot, left in full}
    if not owed:
        return [Move(lot_id, points) for lot_id, points in net.items()], 0
    own = [view for view in open_lots(session, survivor.id, now) if view.id not in net]
    arriving = [
        LotView(lot.id, left, lot.earned_at, lot.expires_at)
        for lot, left in full
        if lot.expires_at is None or lot.expires_at > now
    ]
    repaid = min(owed, sum(view.remaining for view in own + arriving))
    for move in rules.allocate_fifo(own + arriving, repaid):
        net[move.lot_id] = net.get(move.lot_id, 0) + move.points
    return [Move(lot_id, points) for lot_id, points in net.items() if points], repaid


def _move_counters(merged: Account, survivor: Account) -> None:
    """The lifetime counters follow the points: a later reversal nets them on the survivor."""
    for name in ("lifetime_earned", "lifetime_redeemed", "lifetime_expired"):
        setattr(survivor, name, getattr(survivor, name) + getattr(merged, name))
        setattr(merged, name, 0)


def _lots(session: Session, lot_ids: list[int]) -> dict[int, Lot]:
    return {lot.id: lot for lot in session.scalars(select(Lot).where(Lot.id.in_(lot_ids)))}
