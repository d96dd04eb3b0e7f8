"""32 threads hold and capture points and store credit of one customer at once (#19,
phase 2): neither unit is ever spent twice. Real commits on separate connections,
PostgreSQL and MariaDB."""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.errors import InsufficientCredit, InvalidOperation
from loyalty_plugin.domain.redemption import DraftInvoice
from loyalty_plugin.models import Account, LedgerEntry, Redemption, RedemptionStatus
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.ledger.accounts import open_account
from loyalty_plugin.services.ledger.integrity import verify_ledger
from loyalty_plugin.services.spending import redemption as spending
from loyalty_plugin.services.spending.settings import update_settings
from loyalty_plugin.services.transaction import run_in_transaction
from tests.services.test_concurrency import race, wide_engine  # noqa: F401

pytestmark = [pytest.mark.concurrency, pytest.mark.backends("postgresql", "mariadb")]


def test_32_threads_holding_and_capturing_never_spend_credit_or_points_twice(
    session,
    make_account,
    now,
    wide_engine,  # noqa: F811
) -> None:
    """100.00 of credit and 1,000 points; 32 threads, 5 rounds each, hold 2.50 of credit
    and 10 points on an invoice of their own and capture it (a second transaction):
    exactly 40 holds succeed (the credit runs out), the rest are refused for credit, and
    the balances are exactly what the 40 captures took, never below 0."""
    points = make_account(host_customer_id="c1")
    credit = open_account(session, merchant_id="shop", customer_id=points.customer_id, unit="EUR")
    ledger.earn(session, account_id=points.id, points=1000, now=now, actor="t")
    ledger.earn(session, account_id=credit.id, points=10_000, now=now, actor="t")
    changes = {"credit_currencies": ["EUR"]}
    update_settings(session, merchant_id="shop", changes=changes, now=now, actor="t")
    session.commit()
    counter = iter(range(10_000))

    def hold(s: Session) -> int:
        invoice = DraftInvoice(id=f"INV-{next(counter)}", currency="EUR", total=Decimal(1000))
        held = spending.hold_points(
            s, merchant_id="shop", customer_id="c1", invoice=invoice, now=now, actor="race",
            points=10, credit=Decimal("2.50"),
        )  # fmt: skip
        return held.id

    def capture(rid: int) -> Callable[[Session], int]:
        return lambda s: (
            spending.capture_redemption(
                s, merchant_id="shop", redemption_id=rid, invoice_id=None, now=now, actor="race"
            ).id
        )

    def rounds(s: Session) -> list[object]:
        outcomes: list[object] = []
        for _ in range(5):
            try:
                rid = run_in_transaction(s, hold, attempts=5)
            except InsufficientCredit as error:
                outcomes.append(error)
                continue
            outcomes.append(run_in_transaction(s, capture(rid), attempts=5))
        return outcomes

    results = race(wide_engine, 32, rounds)
    assert not [r for r in results if isinstance(r, Exception)], results
    outcomes = [o for r in results for o in r]  # type: ignore[union-attr]
    captured = [o for o in outcomes if isinstance(o, int)]
    assert len(captured) == 40 and len(set(captured)) == 40
    assert all(isinstance(o, InsufficientCredit) for o in outcomes if not isinstance(o, int))
    session.expire_all()
    rows = session.scalars(select(Redemption)).all()
    assert len(rows) == 80 and {r.status for r in rows} == {RedemptionStatus.CAPTURED}
    assert sum(r.points for r in rows if r.unit == "EUR") == 40 * 250
    assert (session.get(Account, points.id).balance, session.get(Account, credit.id).balance) == (
        1000 - 40 * 10, 0,
    )  # fmt: skip
    for account in (points, credit):
        lowest = session.scalar(
            select(func.min(LedgerEntry.balance_after)).where(LedgerEntry.account_id == account.id)
        )
        assert lowest >= 0
    assert verify_ledger(session) == []


def test_capture_and_release_racing_on_one_hold_settle_both_units_one_way(
    session,
    make_account,
    now,
    wide_engine,  # noqa: F811
) -> None:
    """16 holds of 10 points and 2.50 of credit; for each, one thread captures it while
    another releases it: exactly one of the two wins, both units of a hold end the same
    way, and the balances lose exactly what the captured holds took."""
    points = make_account(host_customer_id="c1")
    credit = open_account(session, merchant_id="shop", customer_id=points.customer_id, unit="EUR")
    ledger.earn(session, account_id=points.id, points=1000, now=now, actor="t")
    ledger.earn(session, account_id=credit.id, points=10_000, now=now, actor="t")
    changes = {"credit_currencies": ["EUR"]}
    update_settings(session, merchant_id="shop", changes=changes, now=now, actor="t")
    holds = [
        spending.hold_points(
            session, merchant_id="shop", customer_id="c1", now=now, actor="t", points=10,
            credit=Decimal("2.50"),
            invoice=DraftInvoice(id=f"INV-{n}", currency="EUR", total=Decimal(100)),
        ).id
        for n in range(16)
    ]  # fmt: skip
    session.commit()
    turns, local = iter(range(32)), threading.local()

    def settle(s: Session) -> tuple[int, str, object]:
        if not hasattr(local, "turn"):  # a retry keeps its thread's turn
            local.turn = next(turns)
        rid, capture = holds[local.turn // 2], local.turn % 2 == 0
        act = spending.capture_redemption if capture else spending.release_redemption
        extra = {"invoice_id": None} if capture else {}
        try:
            act(s, merchant_id="shop", redemption_id=rid, now=now, actor="race", **extra)
        except InvalidOperation as error:
            return rid, "capture" if capture else "release", error
        return rid, "capture" if capture else "release", "won"

    results = race(wide_engine, 32, settle)
    assert not [r for r in results if isinstance(r, Exception)], results
    won = [(rid, act) for rid, act, outcome in results if outcome == "won"]  # type: ignore[misc]
    assert sorted(rid for rid, _act in won) == sorted(holds)
    session.expire_all()
    rows = session.scalars(select(Redemption)).all()
    for rid, act in won:
        wanted = RedemptionStatus.CAPTURED if act == "capture" else RedemptionStatus.RELEASED
        mine = [r for r in rows if rid in (r.id, r.lead_id)]
        assert len(mine) == 2 and {r.status for r in mine} == {wanted}
    captured = sum(1 for _rid, act in won if act == "capture")
    assert session.get(Account, points.id).balance == 1000 - 10 * captured
    assert session.get(Account, credit.id).balance == 10_000 - 250 * captured
    assert verify_ledger(session) == []
