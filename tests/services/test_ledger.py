"""Ledger operations on a real database: earn, spend, reverse, adjust, expire, idempotency."""

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.errors import (
    IdempotencyConflict,
    InsufficientPoints,
    InvalidOperation,
    NotFound,
    ValidationError,
)
from loyalty_plugin.domain.ledger import EntryKind
from loyalty_plugin.models import Allocation, LedgerEntry, Lot
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.ledger.entries import Money, Reference
from loyalty_plugin.services.ledger.integrity import verify_ledger


def entries(session: Session, account_id: int) -> list[LedgerEntry]:
    query = select(LedgerEntry).where(LedgerEntry.account_id == account_id)
    return list(session.scalars(query.order_by(LedgerEntry.id)))


def remaining(session: Session, entry: LedgerEntry) -> int:
    return session.scalars(select(Lot.remaining).where(Lot.entry_id == entry.id)).one()


def test_earn_creates_a_lot_and_moves_the_balance(session, make_account, now) -> None:
    """An earn is one entry, one lot, and the materialized balance follows."""
    account = make_account()
    entry = ledger.earn(
        session,
        account_id=account.id,
        points=115,
        now=now,
        actor="test",
        money=Money(Decimal("1150.00"), "eur"),
        reference=Reference("invoice", "INV-1"),
    )
    session.commit()
    assert (entry.points, entry.balance_after, entry.amount, entry.currency) == (
        115,
        115,
        Decimal("1150.0000"),
        "EUR",
    )
    assert account.balance == 115 and account.lifetime_earned == 115
    assert remaining(session, entry) == 115
    assert verify_ledger(session) == []


def test_fifo_spend_and_cancel_restore_the_same_lots(session, make_account, now) -> None:
    """Lots of 100 (March), 50 (April), 200 (May): 120 takes 100+20; reversing restores them."""
    account = make_account()
    march, april, may = (
        ledger.earn(
            session,
            account_id=account.id,
            points=p,
            now=now,
            actor="t",
            expires_at=now + timedelta(days=d),
        )
        for p, d in ((100, 60), (50, 90), (200, 120))
    )
    spend = ledger.spend(session, account_id=account.id, points=120, now=now, actor="t")
    assert [(a.lot_id, a.points) for a in spend.allocations] == [
        (session.scalars(select(Lot.id).where(Lot.entry_id == march.id)).one(), -100),
        (session.scalars(select(Lot.id).where(Lot.entry_id == april.id)).one(), -20),
    ]
    assert [remaining(session, e) for e in (march, april, may)] == [0, 30, 200]
    back = ledger.reverse(session, entry_id=spend.id, now=now, actor="t", reason="cancelled")
    session.commit()
    assert back.kind == EntryKind.REVERSE and back.points == 120
    assert [remaining(session, e) for e in (march, april, may)] == [100, 50, 200]
    assert account.balance == 350 and account.lifetime_redeemed == 0
    assert verify_ledger(session) == []


def test_spend_refuses_more_than_available_and_writes_nothing(session, make_account, now) -> None:
    """Insufficient points: a clear error and no entry."""
    account = make_account()
    ledger.earn(session, account_id=account.id, points=50, now=now, actor="t")
    session.commit()
    with pytest.raises(InsufficientPoints) as info:
        ledger.spend(session, account_id=account.id, points=51, now=now, actor="t")
    session.rollback()
    assert info.value.available == 50
    assert len(entries(session, account.id)) == 1


def test_pending_and_expired_lots_cannot_be_spent(session, make_account, now) -> None:
    """Points in their waiting period, or past expiry, are not spendable."""
    account = make_account()
    ledger.earn(
        session,
        account_id=account.id,
        points=30,
        now=now - timedelta(days=10),
        actor="t",
        expires_at=now - timedelta(days=1),
    )
    ledger.earn(
        session,
        account_id=account.id,
        points=40,
        now=now,
        actor="t",
        available_from=now + timedelta(days=14),
    )
    ledger.earn(session, account_id=account.id, points=5, now=now, actor="t")
    assert ledger.spendable_points(session, account.id, now) == 5
    assert ledger.pending_points(session, account.id, now) == 40
    with pytest.raises(InsufficientPoints):
        ledger.spend(session, account_id=account.id, points=6, now=now, actor="t")


def test_same_idempotency_key_returns_the_first_entry(session, make_account, now) -> None:
    """A retry with the same key and request writes nothing new."""
    account = make_account()
    first = ledger.earn(
        session, account_id=account.id, points=10, now=now, actor="t", idempotency_key="inv-1:earn"
    )
    session.commit()
    again = ledger.earn(
        session,
        account_id=account.id,
        points=10,
        now=now + timedelta(hours=1),
        actor="t",
        idempotency_key="inv-1:earn",
    )
    session.commit()
    assert again.id == first.id
    assert account.balance == 10 and len(entries(session, account.id)) == 1


def test_reused_idempotency_key_with_other_request_conflicts(session, make_account, now) -> None:
    """The same key for a different request is refused, and nothing changes."""
    account = make_account()
    ledger.earn(session, account_id=account.id, points=10, now=now, actor="t", idempotency_key="k")
    session.commit()
    with pytest.raises(IdempotencyConflict) as info:
        ledger.earn(
            session, account_id=account.id, points=11, now=now, actor="t", idempotency_key="k"
        )
    session.rollback()
    assert info.value.field == "idempotency_key"
    assert account.balance == 10


def test_partial_reversal_of_an_earn_and_its_limit(session, make_account, now) -> None:
    """Reversals of an earn add up to at most what was earned."""
    account = make_account()
    earned = ledger.earn(session, account_id=account.id, points=115, now=now, actor="t")
    ledger.reverse(session, entry_id=earned.id, points=57, now=now, actor="t")
    ledger.reverse(session, entry_id=earned.id, points=58, now=now, actor="t")
    with pytest.raises(ValidationError, match="0 points"):
        ledger.reverse(session, entry_id=earned.id, points=1, now=now, actor="t")
    session.rollback()
    assert account.balance == 0 and account.lifetime_earned == 0


def test_reversing_spent_points_reverses_what_is_left(session, make_account, now) -> None:
    """If the earned points were spent, only the remainder is taken back by default."""
    account = make_account()
    earned = ledger.earn(session, account_id=account.id, points=100, now=now, actor="t")
    ledger.spend(session, account_id=account.id, points=70, now=now, actor="t")
    back = ledger.reverse(session, entry_id=earned.id, now=now, actor="t")
    assert back.points == -30 and account.balance == 0
    assert verify_ledger(session) == []


def test_reversal_shortfall_can_come_from_other_lots(session, make_account, now) -> None:
    """With the setting, the spent part of a reversed earn is taken from other lots."""
    account = make_account()
    ledger.earn(session, account_id=account.id, points=50, now=now, actor="t")
    earned = ledger.earn(
        session,
        account_id=account.id,
        points=100,
        now=now,
        actor="t",
        expires_at=now + timedelta(days=1),
    )
    ledger.spend(session, account_id=account.id, points=70, now=now, actor="t")
    back = ledger.reverse(
        session, entry_id=earned.id, now=now, actor="t", take_shortfall_from_other_lots=True
    )
    assert back.points == -80 and account.balance == 0
    assert verify_ledger(session) == []


def test_points_returned_to_an_expired_lot_expire_again(session, make_account, now) -> None:
    """Refunding a spend after its lot expired shows the points coming back and expiring."""
    account = make_account()
    ledger.earn(
        session,
        account_id=account.id,
        points=100,
        now=now,
        actor="t",
        expires_at=now + timedelta(days=30),
    )
    spend = ledger.spend(session, account_id=account.id, points=60, now=now, actor="t")
    later = now + timedelta(days=31)
    ledger.expire_due_lots(session, account_id=account.id, now=later)
    ledger.reverse(session, entry_id=spend.id, now=later, actor="t")
    kinds = [(e.kind, e.points) for e in entries(session, account.id)]
    assert kinds[-2:] == [(EntryKind.REVERSE, 60), (EntryKind.EXPIRE, -60)]
    assert account.balance == 0 and account.lifetime_expired == 100
    assert verify_ledger(session) == []


def test_expire_writes_one_entry_per_account_run(session, make_account, now) -> None:
    """Two due lots expire in one entry; running again does nothing."""
    account = make_account()
    for days in (5, 6):
        ledger.earn(
            session,
            account_id=account.id,
            points=10,
            now=now,
            actor="t",
            expires_at=now + timedelta(days=days),
        )
    ledger.earn(session, account_id=account.id, points=7, now=now, actor="t")
    later = now + timedelta(days=7)
    entry = ledger.expire_due_lots(session, account_id=account.id, now=later)
    assert entry is not None and entry.points == -20 and len(entry.allocations) == 2
    assert ledger.expire_due_lots(session, account_id=account.id, now=later) is None
    assert account.balance == 7 and account.lifetime_expired == 20


def test_adjust_needs_a_reason_and_debits_fifo(session, make_account, now) -> None:
    """Manual adjustments credit a lot or debit FIFO, always with a reason."""
    account = make_account()
    with pytest.raises(ValidationError) as info:
        ledger.adjust(
            session, account_id=account.id, points=5, now=now, actor="staff:ann", reason=" "
        )
    assert info.value.field == "reason"
    ledger.adjust(
        session, account_id=account.id, points=20, now=now, actor="staff:ann", reason="goodwill"
    )
    debit = ledger.adjust(
        session, account_id=account.id, points=-8, now=now, actor="staff:ann", reason="correction"
    )
    assert debit.kind == EntryKind.ADJUST and account.balance == 12
    with pytest.raises(InsufficientPoints):
        ledger.adjust(session, account_id=account.id, points=-13, now=now, actor="s", reason="x")


INVALID_EARNS = {
    "zero points": (lambda now: {"points": 0}, "points"),
    "float points": (lambda now: {"points": 1.5}, "points"),
    "text points": (lambda now: {"points": "5"}, "points"),
    "float money": (lambda now: {"money": Money(1.5, "EUR")}, "amount"),
    "unknown currency": (lambda now: {"money": Money(Decimal(1), "XXY")}, "currency"),
    "unknown account": (lambda now: {"account_id": 999_999}, "account_id"),
    "expiry before earn": (lambda now: {"expires_at": now - timedelta(days=1)}, "expires_at"),
    "naive clock": (lambda now: {"now": datetime(2026, 1, 1)}, "now"),
}


@pytest.mark.parametrize("case", INVALID_EARNS)
def test_invalid_earn_names_the_field(session, make_account, now, case) -> None:
    """Every malformed argument is refused with the field it concerns, and nothing is written."""
    account = make_account()
    arguments, field = INVALID_EARNS[case]
    call = {"account_id": account.id, "points": 10, "now": now, "actor": "t"}
    with pytest.raises((ValidationError, NotFound)) as info:
        ledger.earn(session, **(call | arguments(now)))
    session.rollback()
    assert info.value.field == field
    assert entries(session, account.id) == []


def test_a_reversal_cannot_be_reversed(session, make_account, now) -> None:
    """Corrections are new entries, never reversals of reversals."""
    account = make_account()
    earned = ledger.earn(session, account_id=account.id, points=10, now=now, actor="t")
    back = ledger.reverse(session, entry_id=earned.id, now=now, actor="t")
    with pytest.raises(InvalidOperation):
        ledger.reverse(session, entry_id=back.id, now=now, actor="t")


def test_entries_and_allocations_are_append_only(session, make_account, now) -> None:
    """Changing or deleting a ledger row is refused before it reaches the database."""
    account = make_account()
    entry = ledger.earn(session, account_id=account.id, points=10, now=now, actor="t")
    session.commit()
    entry.points = 1000
    with pytest.raises(RuntimeError, match="append-only"):
        session.flush()
    session.rollback()
    spend = ledger.spend(session, account_id=account.id, points=3, now=now, actor="t")
    session.commit()
    session.delete(session.scalars(select(Allocation).where(Allocation.entry_id == spend.id)).one())
    with pytest.raises(RuntimeError, match="append-only"):
        session.flush()
