"""A refund or cancellation that meets spent points says how many it forgave (#13 item 10)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from loyalty_plugin.services.earning.programs import archive_program, create_program
from loyalty_plugin.services.ledger.integrity import verify_ledger
from loyalty_plugin.services.spending.redemption import capture_redemption
from tests.webhooks.conftest import customer, event, invoice
from tests.webhooks.test_set_aside_reversals import account, hold


def spend(session, now, points: int) -> None:
    """Spend ``points`` for good on invoice B (a captured hold)."""
    held = hold(session, now, "B", points)
    capture_redemption(
        session, merchant_id="shop", redemption_id=held.id, invoice_id="B", now=now, actor="api"
    )
    session.commit()


def program(session, now, policy: str) -> None:
    definition = {
        "key": "main",
        "name": "Main",
        "status": "active",
        "rules": [{"kind": "per_amount", "points": "1", "per": "10"}],
        "reversal": policy,
    }
    archive_program(session, merchant_id="shop", key="default", now=now)  # replaced by main
    create_program(
        session, merchant_id="shop", definition=definition, now=now - timedelta(days=1), actor="t"
    )
    session.commit()


def test_a_cancel_meeting_spent_points_says_they_were_forgiven(send, shop, now) -> None:
    """No program: 100 earned, all 150 spent; the cancellation reverses 0 and forgives 100."""
    send(event("customer.created", {"customer": customer()}))
    send(event("invoice.paid", {"invoice": invoice("A", total="1000.00")}))
    spend(shop, now, 150)
    result = send(event("invoice.cancelled", {"invoice_id": "A"})).body["result"]
    assert (result["points_reversed"], result["points_forgiven"]) == (0, 100)
    assert "points_owed" not in result
    assert verify_ledger(shop) == []


def test_a_refund_meeting_partly_spent_points_forgives_the_rest(send, shop, now) -> None:
    """No program: 30 points left; a half refund calls for 50, reverses 30, forgives 20."""
    send(event("customer.created", {"customer": customer()}))
    send(event("invoice.paid", {"invoice": invoice("A", total="1000.00")}))
    spend(shop, now, 120)
    refund = {"invoice_id": "A", "refund": {"id": "R1", "amount": "500.00"}}
    result = send(event("invoice.refunded", refund)).body["result"]
    assert (result["points_reversed"], result["points_forgiven"]) == (30, 20)
    assert account(shop).balance == 0


def test_a_refund_with_nothing_spent_forgives_nothing(send, shop) -> None:
    """Points still there are reversed; the answer has no points_forgiven."""
    send(event("customer.created", {"customer": customer()}))
    send(event("invoice.paid", {"invoice": invoice("A", total="1000.00")}))
    refund = {"invoice_id": "A", "refund": {"id": "R1", "amount": "500.00"}}
    result = send(event("invoice.refunded", refund)).body["result"]
    assert result["points_reversed"] == 50 and "points_forgiven" not in result


@pytest.mark.parametrize(("policy", "forgiven"), [("reverse_remaining", 100), ("other_lots", 100)])
def test_under_a_program_spent_points_are_forgiven_and_said(
    send, shop, now, policy, forgiven
) -> None:
    """A program that forgives spent points says how many."""
    program(shop, now, policy)
    send(event("customer.created", {"customer": customer()}))
    send(event("invoice.paid", {"invoice": invoice("A", total="1000.00")}))
    spend(shop, now, account(shop).balance)
    result = send(event("invoice.cancelled", {"invoice_id": "A"})).body["result"]
    assert (result["points_reversed"], result["points_forgiven"]) == (0, forgiven)
    assert verify_ledger(shop) == []


def test_under_negative_balance_nothing_is_forgiven(send, shop, now) -> None:
    """negative_balance: the shortfall is debt (points_owed), not forgiven."""
    program(shop, now, "negative_balance")
    send(event("customer.created", {"customer": customer()}))
    send(event("invoice.paid", {"invoice": invoice("A", total="1000.00")}))
    spend(shop, now, account(shop).balance)
    result = send(event("invoice.cancelled", {"invoice_id": "A"})).body["result"]
    assert result["points_reversed"] == 100 and "points_forgiven" not in result
