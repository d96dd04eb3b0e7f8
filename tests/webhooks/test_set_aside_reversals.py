"""Reversals that meet points set aside (on hold, or in an unused coupon) record debt (#12).

Issue 12, item 2: 50 registration + 100 from invoice A, then a hold of 150 on invoice B;
cancelling A used to reverse 0 (the error was logged and dropped) and releasing the hold
left 150 where 50 is right.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from loyalty_plugin.domain.redemption import DraftInvoice
from loyalty_plugin.models import Account, Customer
from loyalty_plugin.services.ledger.integrity import verify_ledger
from loyalty_plugin.services.spending.coupons import convert_points_to_coupon
from loyalty_plugin.services.spending.redemption import (
    capture_redemption,
    hold_points,
    release_redemption,
)
from tests.webhooks.conftest import customer, event, invoice, replace_default_program


def account(session) -> Account:
    session.expire_all()
    return session.scalars(
        select(Account).join(Customer).where(Customer.host_customer_id == "c1")
    ).one()


def hold(session, now, invoice_id: str, points: int):
    held = hold_points(
        session,
        merchant_id="shop",
        customer_id="c1",
        now=now,
        actor="api",
        invoice=DraftInvoice(id=invoice_id, currency="EUR", total=Decimal("1000")),
        points=points,
    )
    session.commit()
    return held


@pytest.fixture
def earned(send, shop):
    """c1 has 50 registration points and 100 from the 1,000.00 invoice A (no program)."""
    send(event("customer.created", {"customer": customer()}))
    answer = send(event("invoice.paid", {"invoice": invoice("A", total="1000.00")}))
    assert answer.body["result"]["points_earned"] == 100
    return send


def test_cancel_while_the_points_are_held_records_debt_repaid_by_the_release(
    earned, shop, now
) -> None:
    """Cancel A with 150 held on B: 100 owed (balance -100); releasing B leaves 50."""
    held = hold(shop, now, "B", 150)
    answer = earned(event("invoice.cancelled", {"invoice_id": "A"}))
    result = answer.body["result"]
    assert (result["points_reversed"], result["points_owed"]) == (100, 100)
    assert (account(shop).balance, account(shop).debt) == (-100, 100)
    assert verify_ledger(shop) == []
    release_redemption(shop, merchant_id="shop", redemption_id=held.id, now=now, actor="api")
    shop.commit()
    assert (account(shop).balance, account(shop).debt) == (50, 0)
    assert verify_ledger(shop) == []


def test_refund_while_held_then_captured_is_repaid_by_the_next_earning(earned, shop, now) -> None:
    """Refunding half of A with all points held owes 50; B paid with its hold earns 100: 50."""
    hold(shop, now, "B", 150)
    refund = {"invoice_id": "A", "refund": {"id": "R1", "amount": "500.00"}}
    result = earned(event("invoice.refunded", refund)).body["result"]
    assert (result["points_reversed"], result["points_owed"]) == (50, 50)
    paid = earned(event("invoice.paid", {"invoice": invoice("B", total="1000.00")}))
    assert paid.body["result"]["redemption"]["status"] == "captured"
    assert (account(shop).balance, account(shop).debt) == (50, 0)
    assert verify_ledger(shop) == []


def test_points_turned_into_an_unused_coupon_are_owed(earned, shop, now) -> None:
    """150 points bought a coupon; cancelling A owes 100, and the next 100 earned repay it."""
    convert_points_to_coupon(
        shop, merchant_id="shop", customer_id="c1", points=150, now=now, actor="api"
    )
    shop.commit()
    result = earned(event("invoice.cancelled", {"invoice_id": "A"})).body["result"]
    assert (result["points_reversed"], result["points_owed"]) == (100, 100)
    earned(event("invoice.paid", {"invoice": invoice("C", total="1000.00")}))
    assert (account(shop).balance, account(shop).debt) == (0, 0)
    assert verify_ledger(shop) == []


def test_points_spent_on_a_captured_hold_are_forgiven_without_a_program(earned, shop, now) -> None:
    """Spent points (a captured hold) are not set aside: the reversal takes what is left."""
    held = hold(shop, now, "B", 150)
    capture_redemption(
        shop, merchant_id="shop", redemption_id=held.id, invoice_id="B", now=now, actor="api"
    )
    shop.commit()
    result = earned(event("invoice.cancelled", {"invoice_id": "A"})).body["result"]
    assert result["points_reversed"] == 0 and "points_owed" not in result
    assert (account(shop).balance, account(shop).debt) == (0, 0)
    assert verify_ledger(shop) == []


@pytest.mark.parametrize("policy", ["other_lots", "reverse_remaining"])
def test_under_a_program_held_points_are_owed_too(send, shop, now, policy) -> None:
    """With a program whose policy forgives spent points, held points are still owed."""
    replace_default_program(shop, now=now, reversal=policy)
    send(event("customer.created", {"customer": customer()}))
    send(event("invoice.paid", {"invoice": invoice("A", total="1000.00")}))
    held = hold(shop, now, "B", 100)
    result = send(event("invoice.cancelled", {"invoice_id": "A"})).body["result"]
    assert (result["points_reversed"], result["points_owed"]) == (100, 100)
    assert (account(shop).balance, account(shop).debt) == (-100, 100)
    release_redemption(shop, merchant_id="shop", redemption_id=held.id, now=now, actor="api")
    shop.commit()
    assert (account(shop).balance, account(shop).debt) == (0, 0)
    assert verify_ledger(shop) == []
