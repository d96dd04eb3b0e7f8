"""Random sequences of ledger operations keep every invariant after every step."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.errors import InsufficientPoints, InvalidOperation, ValidationError
from loyalty_plugin.domain.ledger import MOVE_KINDS
from loyalty_plugin.models import Account, Allocation, Customer, LedgerEntry, Lot, Merchant
from loyalty_plugin.services.customers.merge import merge_customers
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.ledger import transfers
from loyalty_plugin.services.ledger.integrity import verify_ledger
from loyalty_plugin.services.transaction import run_in_transaction
from tests.conftest import wipe

START = datetime(2026, 1, 1, tzinfo=UTC)


class LedgerMachine(RuleBasedStateMachine):
    """Earn, spend, reverse, adjust and expire at random on one account; transfer points to
    and from a second customer, and merge that customer in."""

    engine: sa.Engine
    entries = Bundle("entries")

    @initialize()
    def open_account(self) -> None:
        self.session = Session(self.engine, expire_on_commit=False)
        merchant_id = f"m{uuid.uuid4().hex[:12]}"
        self.session.add(Merchant(id=merchant_id, name="Stateful", currency="EUR"))
        self.session.flush()
        customer = Customer(merchant_id=merchant_id, host_customer_id="1", first_name="S")
        self.session.add(customer)
        self.session.flush()
        self.account = Account(merchant_id=merchant_id, customer_id=customer.id)
        self.session.add(self.account)
        # A second customer of the merchant: transfers go both ways; a merge folds them in.
        friend = Customer(merchant_id=merchant_id, host_customer_id="2", first_name="F")
        self.session.add(friend)
        self.session.flush()
        self.friend = Account(merchant_id=merchant_id, customer_id=friend.id)
        self.session.add(self.friend)
        self.session.commit()
        self.merchant_id = merchant_id
        self.merged = False
        self.transfers = 0
        self.now = START
        self.expected_balance = 0

    def teardown(self) -> None:
        if hasattr(self, "session"):
            self.session.close()
            wipe(self.engine)

    def _apply(self, work) -> object:
        entry = run_in_transaction(self.session, work)
        return entry

    @rule(
        target=entries,
        points=st.integers(1, 500),
        expires_in=st.none() | st.integers(1, 60),
        pending_for=st.none() | st.integers(1, 10),
    )
    def earn(self, points: int, expires_in: int | None, pending_for: int | None) -> object:
        expires = self.now + timedelta(days=expires_in) if expires_in else None
        pending = self.now + timedelta(days=pending_for) if pending_for else None
        if expires and pending and pending >= expires:
            pending = None
        entry = self._apply(
            lambda s: ledger.earn(
                s,
                account_id=self.account.id,
                points=points,
                now=self.now,
                actor="prop",
                expires_at=expires,
                available_from=pending,
            )
        )
        self.expected_balance += points
        return entry.id

    @rule(points=st.integers(1, 300), expires_in=st.none() | st.integers(1, 60))
    def friend_earns(self, points: int, expires_in: int | None) -> None:
        expires = self.now + timedelta(days=expires_in) if expires_in else None
        self._apply(
            lambda s: ledger.earn(
                s, account_id=self.friend.id, points=points, now=self.now, actor="prop",
                expires_at=expires,
            )
        )  # fmt: skip
        if self.merged:  # the merged account hands over: the points are the survivor's
            self.expected_balance += points

    @rule(points=st.integers(1, 400), outward=st.booleans())
    def transfer(self, points: int, outward: bool) -> None:
        giver, taker = (self.account, self.friend) if outward else (self.friend, self.account)
        spendable = ledger.spendable_points(self.session, giver.id, self.now)
        self.session.rollback()
        self.transfers += 1
        key = f"t-{self.transfers}"
        try:
            result = self._apply(
                lambda s: transfers.transfer(
                    s, from_account_id=giver.id, to_account_id=taker.id, points=points,
                    now=self.now, actor="prop", reason="gift", idempotency_key=key,
                )
            )  # fmt: skip
        except InsufficientPoints as error:
            refused_correctly = not self.merged and points > spendable == error.available
            assert refused_correctly
            return
        except ValidationError as error:
            same_customer = self.merged and error.field == "to_customer_id"
            assert same_customer
            return
        assert sum(entry.points for entry in result.received) == points
        again = self._apply(
            lambda s: transfers.transfer(
                s, from_account_id=giver.id, to_account_id=taker.id, points=points,
                now=self.now, actor="prop", reason="gift", idempotency_key=key,
            )
        )  # fmt: skip
        assert again.replayed and again.sent.id == result.sent.id
        self.expected_balance = self._balance()

    @precondition(lambda self: not getattr(self, "merged", True))
    @rule()
    def friend_is_merged_in(self) -> None:
        self._apply(
            lambda s: merge_customers(
                s, merchant_id=self.merchant_id, customer_id="2", into_customer_id="1",
                now=self.now, actor="staff:1 P",
            )
        )  # fmt: skip
        self.merged = True
        self.expected_balance = self._balance()
        self.session.refresh(self.friend)
        assert self.friend.balance == 0
        self.session.rollback()

    @rule(target=entries, points=st.integers(1, 600))
    def spend(self, points: int) -> object:
        spendable = ledger.spendable_points(self.session, self.account.id, self.now)
        self.session.rollback()
        try:
            entry = self._apply(
                lambda s: ledger.spend(
                    s, account_id=self.account.id, points=points, now=self.now, actor="prop"
                )
            )
        except InsufficientPoints as error:
            refused_correctly = points > spendable == error.available
            assert refused_correctly
            return None
        assert points <= spendable
        self.expected_balance -= points
        return entry.id

    @rule(entry_id=entries, part=st.none() | st.integers(1, 300), from_others=st.booleans())
    def reverse(self, entry_id: int | None, part: int | None, from_others: bool) -> None:
        if entry_id is None:
            return
        try:
            entry = self._apply(
                lambda s: ledger.reverse(
                    s,
                    entry_id=entry_id,
                    points=part,
                    now=self.now,
                    actor="prop",
                    take_shortfall_from_other_lots=from_others,
                )
            )
        except (ValidationError, InvalidOperation):
            return
        self.expected_balance = self._balance()
        assert entry.reverses_entry_id == entry_id

    @rule(target=entries, points=st.integers(1, 300))
    def take_back(self, points: int) -> object:
        """Returned points taken back (a reversed refund): the ``reverse`` rule may undo it."""
        entry = self._apply(
            lambda s: ledger.take_back(
                s, account_id=self.account.id, points=points, now=self.now, actor="prop",
                reason="refund reversed",
            )
        )  # fmt: skip
        self.expected_balance = self._balance()
        return None if entry is None else entry.id

    @rule(entry_id=entries, part=st.none() | st.integers(1, 300))
    def reverse_as_debt(self, entry_id: int | None, part: int | None) -> None:
        """A reversal that owes what the lots lack: later credits repay the debt."""
        if entry_id is None:
            return
        try:
            self._apply(
                lambda s: ledger.reverse(
                    s, entry_id=entry_id, points=part, now=self.now, actor="prop",
                    shortfall_as_debt=True,
                )
            )  # fmt: skip
        except (ValidationError, InvalidOperation):
            return
        self.expected_balance = self._balance()

    @rule(points=st.integers(-300, 300).filter(bool))
    def adjust(self, points: int) -> None:
        try:
            self._apply(
                lambda s: ledger.adjust(
                    s,
                    account_id=self.account.id,
                    points=points,
                    now=self.now,
                    actor="staff:p",
                    reason="property test",
                )
            )
        except InsufficientPoints:
            assert points < 0
            return
        self.expected_balance += points

    @rule(days=st.integers(1, 40))
    def time_passes_and_lots_expire(self, days: int) -> None:
        self.now += timedelta(days=days)
        self._apply(lambda s: ledger.expire_due_lots(s, account_id=self.account.id, now=self.now))
        self.expected_balance = self._balance()

    def _balance(self) -> int:
        self.session.refresh(self.account)
        return self.account.balance

    @invariant()
    def entries_lots_and_balance_agree(self) -> None:
        if not hasattr(self, "account"):
            return
        s = self.session
        account_id = self.account.id
        entry_sum = s.scalar(
            select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(
                LedgerEntry.account_id == account_id
            )
        )
        lot_sum = s.scalar(
            select(func.coalesce(func.sum(Lot.remaining), 0)).where(Lot.account_id == account_id)
        )
        negative = s.scalar(
            select(func.count()).where(Lot.account_id == account_id, Lot.remaining < 0)
        )
        allocated = s.scalar(
            select(func.coalesce(func.sum(Allocation.points), 0))
            .join(Lot, Lot.id == Allocation.lot_id)
            .where(Lot.account_id == account_id)
        )
        granted = s.scalar(
            select(func.coalesce(func.sum(Lot.points), 0)).where(Lot.account_id == account_id)
        )
        balance = self._balance()
        debt = self.account.debt
        s.rollback()
        assert entry_sum == lot_sum - debt == balance == self.expected_balance
        assert debt >= 0
        assert negative == 0
        assert granted + allocated == lot_sum
        assert verify_ledger(s) == []
        s.rollback()

    @invariant()
    def transfers_and_merges_create_no_points(self) -> None:
        """Earned - spent - expired - reversed over both customers: moves add nothing."""
        if not hasattr(self, "friend"):
            return
        s = self.session
        moved = s.scalar(
            select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(
                LedgerEntry.account_id.in_((self.account.id, self.friend.id)),
                LedgerEntry.kind.in_(MOVE_KINDS),
            )
        )
        both = s.scalar(
            select(func.coalesce(func.sum(Account.balance), 0)).where(
                Account.id.in_((self.account.id, self.friend.id))
            )
        )
        others = s.scalar(
            select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(
                LedgerEntry.account_id.in_((self.account.id, self.friend.id)),
                LedgerEntry.kind.not_in(MOVE_KINDS),
            )
        )
        s.rollback()
        assert moved == 0
        assert both == others


@pytest.mark.parametrize("examples", [25])
def test_random_operations_keep_the_ledger_invariants(clean_engine, backend, examples) -> None:
    """After every step: sum of entries = sum of lot remainders = balance; no lot negative."""
    LedgerMachine.engine = clean_engine
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=examples if backend == "sqlite" else examples // 2,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            database=None,
        ),
    )
