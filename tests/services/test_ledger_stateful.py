"""Random sequences of ledger operations keep every invariant after every step.

Both units at once on one customer (#19): the points account and a EUR store credit account
(minor units), each operation on either; the invariants are checked per unit.
"""

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
from loyalty_plugin.jobs.expiry import run_date_expiry
from loyalty_plugin.models import Account, Allocation, Customer, LedgerEntry, Lot, Merchant
from loyalty_plugin.services.customers.merge import merge_customers
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.ledger import transfers
from loyalty_plugin.services.ledger.integrity import verify_ledger
from loyalty_plugin.services.transaction import run_in_transaction
from tests.conftest import wipe

START = datetime(2026, 1, 1, tzinfo=UTC)
#: The units every customer of the machine holds: points, and store credit in EUR cents.
UNITS = ("points", "EUR")
units = st.sampled_from(UNITS)


class LedgerMachine(RuleBasedStateMachine):
    """Earn, spend, reverse, adjust and expire at random on one customer's points and EUR
    credit accounts; transfer points to and from a second customer, and merge that customer
    (both units) in."""

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
        self.credit = Account(merchant_id=merchant_id, customer_id=customer.id, unit="EUR")
        self.friend_credit = Account(merchant_id=merchant_id, customer_id=friend.id, unit="EUR")
        self.session.add_all([self.credit, self.friend_credit])
        self.session.commit()
        self.merchant_id = merchant_id
        self.merged = False
        self.transfers = 0
        self.now = START
        self.expected = dict.fromkeys(UNITS, 0)

    def _mine(self, unit: str) -> Account:
        return self.account if unit == "points" else self.credit

    def _friends(self, unit: str) -> Account:
        return self.friend if unit == "points" else self.friend_credit

    def teardown(self) -> None:
        if hasattr(self, "session"):
            self.session.close()
            wipe(self.engine)

    def _apply(self, work) -> object:
        entry = run_in_transaction(self.session, work)
        return entry

    @rule(
        target=entries,
        unit=units,
        points=st.integers(1, 500),
        expires_in=st.none() | st.integers(1, 60),
        pending_for=st.none() | st.integers(1, 10),
    )
    def earn(
        self, unit: str, points: int, expires_in: int | None, pending_for: int | None
    ) -> object:
        expires = self.now + timedelta(days=expires_in) if expires_in else None
        pending = self.now + timedelta(days=pending_for) if pending_for else None
        if expires and pending and pending >= expires:
            pending = None
        entry = self._apply(
            lambda s: ledger.earn(
                s,
                account_id=self._mine(unit).id,
                points=points,
                now=self.now,
                actor="prop",
                expires_at=expires,
                available_from=pending,
            )
        )
        self.expected[unit] += points
        return entry.id

    @rule(unit=units, points=st.integers(1, 300), expires_in=st.none() | st.integers(1, 60))
    def friend_earns(self, unit: str, points: int, expires_in: int | None) -> None:
        expires = self.now + timedelta(days=expires_in) if expires_in else None
        self._apply(
            lambda s: ledger.earn(
                s, account_id=self._friends(unit).id, points=points, now=self.now,
                actor="prop", expires_at=expires,
            )
        )  # fmt: skip
        if self.merged:  # the merged account hands over: the points are the survivor's
            self.expected[unit] += points

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
        self._refresh()

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
        self._refresh()
        for friend in (self.friend, self.friend_credit):
            self.session.refresh(friend)
            assert friend.balance == 0 and friend.merged_into_id == self._mine(friend.unit).id
        self.session.rollback()

    @rule(target=entries, unit=units, points=st.integers(1, 600))
    def spend(self, unit: str, points: int) -> object:
        spendable = ledger.spendable_points(self.session, self._mine(unit).id, self.now)
        self.session.rollback()
        try:
            entry = self._apply(
                lambda s: ledger.spend(
                    s, account_id=self._mine(unit).id, points=points, now=self.now, actor="prop"
                )
            )
        except InsufficientPoints as error:
            refused_correctly = points > spendable == error.available
            assert refused_correctly
            return None
        assert points <= spendable
        self.expected[unit] -= points
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
        self._refresh()
        assert entry.reverses_entry_id == entry_id

    @rule(target=entries, unit=units, points=st.integers(1, 300))
    def take_back(self, unit: str, points: int) -> object:
        """Returned points taken back (a reversed refund): the ``reverse`` rule may undo it."""
        entry = self._apply(
            lambda s: ledger.take_back(
                s, account_id=self._mine(unit).id, points=points, now=self.now, actor="prop",
                reason="refund reversed",
            )
        )  # fmt: skip
        self._refresh()
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
        self._refresh()

    @rule(unit=units, points=st.integers(-300, 300).filter(bool))
    def adjust(self, unit: str, points: int) -> None:
        try:
            self._apply(
                lambda s: ledger.adjust(
                    s,
                    account_id=self._mine(unit).id,
                    points=points,
                    now=self.now,
                    actor="staff:p",
                    reason="property test",
                )
            )
        except InsufficientPoints:
            assert points < 0
            return
        self.expected[unit] += points

    @rule(days=st.integers(1, 40))
    def time_passes_and_lots_expire(self, days: int) -> None:
        self.now += timedelta(days=days)
        for unit in UNITS:
            account_id = self._mine(unit).id
            self._apply(
                lambda s, a=account_id: ledger.expire_due_lots(s, account_id=a, now=self.now)
            )
        self._refresh()

    @rule(days=st.integers(1, 40))
    def time_passes_and_the_expiry_job_runs(self, days: int) -> None:
        """The set-based ``expire-points`` job: both units' lots past their date (#19)."""
        self.now += timedelta(days=days)
        run_date_expiry(self.session, now=self.now, batch_size=3)
        self._refresh()

    def _balance(self, unit: str = "points") -> int:
        account = self._mine(unit)
        self.session.refresh(account)
        return account.balance

    def _refresh(self) -> None:
        """Expect what each unit's balance is now (after an operation whose effect the
        ledger decides: a reversal, a take-back, an expiry, a merge)."""
        self.expected = {unit: self._balance(unit) for unit in UNITS}

    @invariant()
    def entries_lots_and_balance_agree(self) -> None:
        """Per unit: entries = lots - debt = balance = what the rules expect."""
        if not hasattr(self, "account"):
            return
        for unit in UNITS:
            self._agree(unit)
        assert verify_ledger(self.session) == []
        self.session.rollback()

    def _agree(self, unit: str) -> None:
        s = self.session
        account_id = self._mine(unit).id
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
        units_seen = set(
            s.scalars(select(LedgerEntry.unit).where(LedgerEntry.account_id == account_id))
        ) | set(s.scalars(select(Lot.unit).where(Lot.account_id == account_id)))
        balance = self._balance(unit)
        debt = self._mine(unit).debt
        s.rollback()
        assert entry_sum == lot_sum - debt == balance == self.expected[unit], unit
        assert debt >= 0
        assert negative == 0
        assert granted + allocated == lot_sum
        assert units_seen <= {unit}

    @invariant()
    def transfers_and_merges_create_no_points(self) -> None:
        """Earned - spent - expired - reversed over both customers: moves add nothing."""
        if not hasattr(self, "friend"):
            return
        for unit in UNITS:
            self._nothing_created(unit)

    def _nothing_created(self, unit: str) -> None:
        s = self.session
        pair = (self._mine(unit).id, self._friends(unit).id)
        moved = s.scalar(
            select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(
                LedgerEntry.account_id.in_(pair),
                LedgerEntry.kind.in_(MOVE_KINDS),
            )
        )
        both = s.scalar(
            select(func.coalesce(func.sum(Account.balance), 0)).where(Account.id.in_(pair))
        )
        others = s.scalar(
            select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(
                LedgerEntry.account_id.in_(pair),
                LedgerEntry.kind.not_in(MOVE_KINDS),
            )
        )
        s.rollback()
        assert moved == 0
        assert both == others


@pytest.mark.parametrize("examples", [25])
def test_random_operations_keep_the_ledger_invariants(clean_engine, backend, examples) -> None:
    """After every step, per unit (points and EUR credit): sum of entries = sum of lot
    remainders - debt = balance; no lot negative."""
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
