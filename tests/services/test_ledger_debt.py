"""Debt: reversals that let the balance go negative, and the points that repay it."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import invariant, rule, run_state_machine_as_test
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from loyalty_plugin.domain.errors import InsufficientPoints, InvalidOperation, ValidationError
from loyalty_plugin.models import Account, LedgerEntry, Lot
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.ledger.integrity import verify_ledger
from loyalty_plugin.services.ledger.transfers import lock_pair, move_lots
from tests.services.test_ledger_stateful import UNITS, LedgerMachine


def account_state(session: Session, account_id: int) -> tuple[int, int]:
    session.expire_all()
    account = session.get(Account, account_id)
    return account.balance, account.debt


def test_a_reversal_as_debt_takes_what_is_left_and_owes_the_rest(
    session: Session, make_account, now: datetime
) -> None:
    """100 earned, 70 spent, all reversed: 30 taken, 70 owed, balance -70, ledger sound."""
    account = make_account()
    earned = ledger.earn(session, account_id=account.id, points=100, now=now, actor="t")
    ledger.spend(session, account_id=account.id, points=70, now=now, actor="t")
    reversal = ledger.reverse(
        session, entry_id=earned.id, now=now, actor="t", shortfall_as_debt=True
    )
    session.commit()
    assert (reversal.points, reversal.details) == (-100, {"debt_change": 70})
    assert account_state(session, account.id) == (-70, 70)
    assert verify_ledger(session) == []


def test_debt_takes_pending_points_too_before_owing(
    session: Session, make_account, now: datetime
) -> None:
    """Points still pending elsewhere cover the shortfall before any debt is recorded."""
    account = make_account()
    earned = ledger.earn(session, account_id=account.id, points=50, now=now, actor="t")
    ledger.spend(session, account_id=account.id, points=50, now=now, actor="t")
    ledger.earn(
        session,
        account_id=account.id,
        points=30,
        now=now,
        actor="t",
        available_from=now + timedelta(days=10),
    )
    ledger.reverse(session, entry_id=earned.id, now=now, actor="t", shortfall_as_debt=True)
    session.commit()
    assert account_state(session, account.id) == (-20, 20)
    assert verify_ledger(session) == []


def test_new_points_repay_the_debt_first(session: Session, make_account, now: datetime) -> None:
    """With 70 owed, earning 50 repays 50; earning 40 more repays 20 and leaves 20."""
    account = make_account()
    earned = ledger.earn(session, account_id=account.id, points=100, now=now, actor="t")
    ledger.spend(session, account_id=account.id, points=100, now=now, actor="t")
    ledger.reverse(
        session, entry_id=earned.id, points=70, now=now, actor="t", shortfall_as_debt=True
    )
    first = ledger.earn(session, account_id=account.id, points=50, now=now, actor="t")
    assert first.details == {"debt_change": -50}
    assert account_state(session, account.id) == (-20, 20)
    ledger.earn(session, account_id=account.id, points=40, now=now, actor="t")
    session.commit()
    assert account_state(session, account.id) == (20, 0)
    assert ledger.spendable_points(session, account.id, now) == 20
    with pytest.raises(InsufficientPoints):
        ledger.spend(session, account_id=account.id, points=21, now=now, actor="t")
    assert verify_ledger(session) == []


def test_points_given_back_by_a_reversed_redemption_repay_the_debt(
    session: Session, make_account, now: datetime
) -> None:
    """A refunded redemption returns its points, and the debt is paid from them first."""
    account = make_account()
    first = ledger.earn(session, account_id=account.id, points=100, now=now, actor="t")
    redeemed = ledger.spend(session, account_id=account.id, points=100, now=now, actor="t")
    ledger.reverse(session, entry_id=first.id, now=now, actor="t", shortfall_as_debt=True)
    assert account_state(session, account.id) == (-100, 100)
    back = ledger.reverse(session, entry_id=redeemed.id, points=60, now=now, actor="t")
    session.commit()
    assert (back.points, back.details) == (60, {"debt_change": -60})
    assert account_state(session, account.id) == (-40, 40)
    assert verify_ledger(session) == []


def _in_debt(session: Session, account: Account, now: datetime, owed: int) -> None:
    earned = ledger.earn(session, account_id=account.id, points=owed, now=now, actor="t")
    ledger.spend(session, account_id=account.id, points=owed, now=now, actor="t")
    ledger.reverse(session, entry_id=earned.id, now=now, actor="t", shortfall_as_debt=True)


def _merge(session: Session, merged: Account, survivor: Account, now: datetime):
    pair = lock_pair(session, merged.id, survivor.id)
    return move_lots(session, merged=pair[0], survivor=pair[1], now=now, actor="t", reason="m")


def test_points_merged_in_repay_the_survivors_debt(
    session: Session, make_account, now: datetime
) -> None:
    """The survivor owes 70; the merged customer brings 50: all 50 repay, 20 still owed."""
    survivor, merged = make_account(), make_account()
    _in_debt(session, survivor, now, 70)
    ledger.earn(session, account_id=merged.id, points=50, now=now, actor="t")
    moved = _merge(session, merged, survivor, now)
    session.commit()
    assert (moved.into.points, moved.into.details["debt_change"]) == (50, -50)
    assert account_state(session, survivor.id) == (-20, 20)
    assert ledger.spendable_points(session, survivor.id, now) == 0
    assert verify_ledger(session) == []


def test_a_merged_customers_debt_is_repaid_from_the_survivors_points(
    session: Session, make_account, now: datetime
) -> None:
    """The merged customer owes 30; the survivor holds 100: 30 repaid, 70 left, no debt."""
    survivor, merged = make_account(), make_account()
    ledger.earn(session, account_id=survivor.id, points=100, now=now, actor="t")
    _in_debt(session, merged, now, 30)
    moved = _merge(session, merged, survivor, now)
    session.commit()
    assert (moved.into.points, moved.into.details.get("debt_change", 0)) == (-30, 0)
    assert account_state(session, survivor.id) == (70, 0)
    assert ledger.spendable_points(session, survivor.id, now) == 70
    assert verify_ledger(session) == []


def test_verify_finds_a_debt_that_entries_do_not_explain(
    session: Session, make_account, now: datetime
) -> None:
    """Tampering with the debt column is reported by two checks."""
    account = make_account()
    ledger.earn(session, account_id=account.id, points=10, now=now, actor="t")
    session.commit()
    session.execute(update(Account).where(Account.id == account.id).values(debt=5))
    session.commit()
    checks = sorted(v.check for v in verify_ledger(session))
    assert checks == ["0 <= debt = sum of entries' debt changes", "balance = sum of lot remainders"]


class DebtLedgerMachine(LedgerMachine):
    """The ledger machine with reversals into debt: the invariants hold with debt counted,
    per unit (points and EUR credit, #19)."""

    @rule(entry_id=LedgerMachine.entries, part=st.none() | st.integers(1, 300))
    def reverse_into_debt(self, entry_id: int | None, part: int | None) -> None:
        if entry_id is None:
            return
        try:
            self._apply(
                lambda s: ledger.reverse(
                    s,
                    entry_id=entry_id,
                    points=part,
                    now=self.now,
                    actor="prop",
                    shortfall_as_debt=True,
                )
            )
        except (ValidationError, InvalidOperation):
            return
        self._refresh()

    @invariant()
    def entries_lots_and_balance_agree(self) -> None:
        if not hasattr(self, "account"):
            return
        for unit in UNITS:
            self._debt_agrees(unit)
        assert verify_ledger(self.session) == []
        self.session.rollback()

    def _debt_agrees(self, unit: str) -> None:
        s = self.session
        account_id = self._mine(unit).id
        entries = s.scalar(
            select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(
                LedgerEntry.account_id == account_id
            )
        )
        lots = s.scalar(
            select(func.coalesce(func.sum(Lot.remaining), 0)).where(Lot.account_id == account_id)
        )
        balance, debt = account_state(s, account_id)
        s.rollback()
        assert entries == balance == self.expected[unit], unit
        assert lots - debt == balance and debt >= 0
        assert debt == 0 or lots == 0 or self._only_expired_or_pending_left(account_id)

    def _only_expired_or_pending_left(self, account_id: int) -> bool:
        return ledger.spendable_points(self.session, account_id, self.now) == 0


def test_random_operations_with_debt_keep_the_invariants(clean_engine, backend) -> None:
    """Earn, spend, reverse (into debt too), adjust and expire keep every invariant."""
    DebtLedgerMachine.engine = clean_engine
    run_state_machine_as_test(
        DebtLedgerMachine,
        settings=settings(
            max_examples=20 if backend == "sqlite" else 8,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            database=None,
        ),
    )
