"""A refund by line gives the same points in every order of paid, payment and refund (#12).

Issue 12, item 4: ``invoice.payment_recorded`` creates the invoice without its lines; a
refund by line that arrived before ``invoice.paid`` failed on "invoice has no line 'L1'"
and was rejected, so the invoice kept all its points.
"""

from __future__ import annotations

from itertools import permutations

import pytest
from sqlalchemy import select

from loyalty_plugin.models import InboxStatus, WebhookEvent
from loyalty_plugin.services.ledger.integrity import verify_ledger
from tests.webhooks.conftest import balance, customer, event, replace_default_program

LINES = [{"id": "L1", "qty": 1, "total": "300.00"}, {"id": "L2", "qty": 1, "total": "1200.00"}]


def paid() -> dict:
    invoice = {"id": "INV-1", "customer_id": "c1", "currency": "EUR", "total": "1500.00"}
    return event("invoice.paid", {"invoice": invoice | {"items": LINES}})


def payment(amount: str) -> dict:
    invoice = {"id": "INV-1", "customer_id": "c1", "currency": "EUR", "total": "1500.00"}
    return event(
        "invoice.payment_recorded",
        {"invoice": invoice, "payment": {"id": "P1", "amount": amount}},
    )


def refund() -> dict:
    body = {"id": "R1", "amount": "300.00", "items": [{"line_id": "L1", "qty": 1}]}
    return event("invoice.refunded", {"invoice_id": "INV-1", "refund": body})


@pytest.mark.parametrize("amount", ["500.00", "1500.00"], ids=["partial", "full"])
@pytest.mark.parametrize("order", list(permutations(("paid", "payment", "refund"))), ids="-".join)
def test_a_refund_by_line_counts_in_every_order(send, shop, order, amount) -> None:
    """50 + 150 earned on 1,500.00, L1 (300.00) refunded: 170 whatever the order."""
    send(event("customer.created", {"customer": customer()}))
    bodies = {"paid": paid(), "payment": payment(amount), "refund": refund()}
    answers = [send(bodies[name]) for name in order]
    assert all(a.status in (200, 202) for a in answers), [a.body for a in answers]
    assert balance(shop) == 50 + 150 - 30
    statuses = shop.scalars(select(WebhookEvent.status)).all()
    assert set(statuses) == {InboxStatus.PROCESSED}
    assert verify_ledger(shop) == []


def test_a_refund_of_a_line_the_paid_invoice_lacks_is_refused(send, shop) -> None:
    """Once the invoice is paid with its lines, an unknown line is a 422 naming the item."""
    send(event("customer.created", {"customer": customer()}))
    send(paid())
    body = {"id": "R9", "amount": "0", "items": [{"line_id": "L9", "qty": 1}]}
    answer = send(event("invoice.refunded", {"invoice_id": "INV-1", "refund": body}))
    assert answer.status == 422
    assert "data.refund.items.0.line_id" in answer.body["error"]["fields"]


@pytest.mark.parametrize("amount", ["500.00", "1500.00"], ids=["partial", "full"])
@pytest.mark.parametrize("order", list(permutations(("paid", "payment", "refund"))), ids="-".join)
def test_under_a_program_too(send, shop, now, order, amount) -> None:
    """1 point per 10.00 under a program: 150 earned, L1 refunded, 120 in every order."""
    replace_default_program(shop, now=now)
    send(event("customer.created", {"customer": customer()}))
    bodies = {"paid": paid(), "payment": payment(amount), "refund": refund()}
    answers = [send(bodies[name]) for name in order]
    assert all(a.status in (200, 202) for a in answers), [a.body for a in answers]
    assert balance(shop) == 150 - 30
    assert verify_ledger(shop) == []
