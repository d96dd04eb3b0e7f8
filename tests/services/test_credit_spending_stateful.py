"""Random sequences of holds, captures, releases, refunds and stale holds of points and
store credit on one customer keep every invariant after every step (#19, phase 2).

Per unit: the sum of entries = the lots' remainders - debt = the balance = what the model
expects; the ledger verifies; each redemption's rows (one per unit) share one status.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.errors import (
    InsufficientCredit,
    InsufficientPoints,
    InvalidOperation,
    NotFound,
    ValidationError,
)
from loyalty_plugin.domain.redemption import DraftInvoice
from loyalty_plugin.models import Account, Customer, LedgerEntry, Lot, Merchant, Redemption
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.ledger.integrity import verify_ledger
from loyalty_plugin.services.spending import redemption as spending
from loyalty_plugin.services.spending.settings import update_settings
from loyalty_plugin.services.transaction import run_in_transaction
from tests.conftest import wipe

START = datetime(2026, 1, 1, tzinfo=UTC)
UNITS = ("points", "EUR")
REFUSED = (InsufficientCredit, InsufficientPoints, InvalidOperation, NotFound, ValidationError)


@dataclass
class Held:
    """The model of one redemption: what each unit took and has had returned."""

    invoice_id: str
    points: int
    minor: int
    status: str = "held"
    share: Decimal = Decimal(0)
    returned: tuple[int, int] = (0, 0)


class SpendingMachine(RuleBasedStateMachine):
    """Hold points and EUR credit at random on one customer, then capture, release, refund
    (a growing share) or let the stale-holds job release them."""

    engine: sa.Engine
    holds = Bundle("holds")

    @initialize()
    def open_accounts(self) -> None:
        self.session = Session(self.engine, expire_on_commit=False)
        self.merchant_id = f"m{uuid.uuid4().hex[:12]}"
        self.session.add(Merchant(id=self.merchant_id, name="Stateful", currency="EUR"))
        self.session.flush()
        customer = Customer(merchant_id=self.merchant_id, host_customer_id="1", first_name="S")
        self.session.add(customer)
        self.session.flush()
        self.accounts = {
            unit: Account(merchant_id=self.merchant_id, customer_id=customer.id, unit=unit)
            for unit in UNITS
        }
        self.session.add_all(self.accounts.values())
        self.session.flush()
        update_settings(self.session, merchant_id=self.merchant_id, now=START, actor="t",
                        changes={"credit_currencies": ["EUR"], "hold_minutes": 60})  # fmt: skip
        for unit, amount in (("points", 3000), ("EUR", 6000)):
            ledger.earn(self.session, account_id=self.accounts[unit].id, points=amount,
                        now=START, actor="t")  # fmt: skip
        self.session.commit()
        self.now = START
        self.expected = {"points": 3000, "EUR": 6000}
        self.model: dict[int, Held] = {}
        self.invoices = 0

    def teardown(self) -> None:
        if hasattr(self, "session"):
            self.session.close()
            wipe(self.engine)

    @rule(
        target=holds,
        total=st.integers(1, 400),
        points=st.none() | st.integers(0, 800),
        cents=st.none() | st.integers(0, 4000),
    )
    def hold(self, total: int, points: int | None, cents: int | None) -> int:
        self.invoices += 1
        invoice = DraftInvoice(id=f"INV-{self.invoices}", currency="EUR", total=Decimal(total))
        credit = None if cents is None else Decimal(cents) / 100
        if points == 0 and credit is None:
            points = None
        try:
            held = run_in_transaction(self.session, lambda s: spending.hold_points(
                s, merchant_id=self.merchant_id, customer_id="1", invoice=invoice,
                now=self.now, actor="t", points=points, credit=credit,
            ))  # fmt: skip
        except REFUSED:
            self.session.rollback()
            return -1
        minor = sum(part.points for part in held.credit_parts)
        self.model[held.id] = Held(invoice.id or "", held.points_held, minor)
        self.expected["points"] -= held.points_held
        self.expected["EUR"] -= minor
        return held.id

    @rule(rid=holds)
    def capture(self, rid: int) -> None:
        held = self.model.get(rid)
        try:
            run_in_transaction(self.session, lambda s: spending.capture_redemption(
                s, merchant_id=self.merchant_id, redemption_id=rid, invoice_id=None,
                now=self.now, actor="t",
            ))  # fmt: skip
        except REFUSED:
            self.session.rollback()
            assert held is None or held.status not in ("held", "captured")
            return
        assert held is not None and held.status in ("held", "captured")
        held.status = "captured"

    @rule(rid=holds)
    def release(self, rid: int) -> None:
        held = self.model.get(rid)
        try:
            run_in_transaction(self.session, lambda s: spending.release_redemption(
                s, merchant_id=self.merchant_id, redemption_id=rid, now=self.now, actor="t",
            ))  # fmt: skip
        except REFUSED:
            self.session.rollback()
            assert held is None or held.status == "captured"
            return
        assert held is not None and held.status != "captured"
        if held.status == "held":
            self.expected["points"] += held.points
            self.expected["EUR"] += held.minor
            held.status = "released"

    @rule(rid=holds, more=st.integers(1, 60))
    def refund(self, rid: int, more: int) -> None:
        held = self.model.get(rid)
        if held is None:
            return
        share = min(Decimal(1), held.share + Decimal(more) / 100)
        run_in_transaction(self.session, lambda s: spending.return_points_for_refund(
            s, merchant_id=self.merchant_id, invoice_id=held.invoice_id, share=share,
            now=self.now, actor="t",
        ))  # fmt: skip
        if held.status != "captured":
            return
        held.share = share
        targets = tuple(
            int((amount * share).to_integral_value(rounding=ROUND_HALF_UP))
            for amount in (held.points, held.minor)
        )
        for unit, target, before in zip(UNITS, targets, held.returned, strict=True):
            self.expected[unit] += max(0, target - before)
        held.returned = tuple(max(t, b) for t, b in zip(targets, held.returned, strict=True))  # type: ignore[assignment]

    @rule(minutes=st.integers(1, 90))
    def time_passes_and_stale_holds_go(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)
        released = run_in_transaction(
            self.session, lambda s: spending.release_stale_holds(s, now=self.now)
        )
        for lead in released:
            held = self.model[lead.id]
            assert held.status == "held"
            held.status = "expired"
            self.expected["points"] += held.points
            self.expected["EUR"] += held.minor

    @invariant()
    def units_agree_and_rows_move_together(self) -> None:
        if not hasattr(self, "accounts"):
            return
        s = self.session
        for unit, account in self.accounts.items():
            entries = s.scalar(
                select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(
                    LedgerEntry.account_id == account.id
                )
            )
            lots = s.scalar(
                select(func.coalesce(func.sum(Lot.remaining), 0)).where(
                    Lot.account_id == account.id
                )
            )
            s.refresh(account)
            assert entries == lots - account.debt == account.balance == self.expected[unit], unit
        for lead_id, held in self.model.items():
            statuses = set(
                s.scalars(
                    select(Redemption.status).where(
                        (Redemption.id == lead_id) | (Redemption.lead_id == lead_id)
                    )
                )
            )
            assert statuses == {held.status}, (lead_id, statuses, held)
        assert verify_ledger(s) == []
        s.rollback()


@pytest.mark.parametrize("examples", [20])
def test_random_spending_keeps_each_unit_whole(clean_engine, backend, examples) -> None:
    """After every step, per unit (points and EUR credit): entries = lots - debt = balance
    = the model; a redemption's rows never part ways."""
    SpendingMachine.engine = clean_engine
    run_state_machine_as_test(
        SpendingMachine,
        settings=settings(
            max_examples=examples if backend == "sqlite" else examples // 2,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            database=None,
        ),
    )
