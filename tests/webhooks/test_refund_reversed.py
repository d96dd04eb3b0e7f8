"""``invoice.refund_reversed`` (#16): the host undid a refund; what it took comes back, once.

Before #16 the contract had no "un-refund": a credit-note refund deleted in Perfex, or a
credit taken off an invoice, left the points the refund had reversed taken for good.
"""

from __future__ import annotations

from collections import Counter
from itertools import permutations

import pytest
from sqlalchemy import select

from loyalty_plugin.models import Invoice, WebhookEvent
from loyalty_plugin.services.ledger.integrity import verify_ledger
from tests.webhooks.conftest import (
    balance,
    customer,
    event,
    invoice,
    ledger_points,
    signed,
)
from tests.webhooks.test_concurrency import post_all, served  # noqa: F401 - fixture

PAID = event("invoice.paid", {"invoice": invoice()})
CANCELLED = event("invoice.cancelled", {"invoice_id": "INV-1"})
REINSTATED = event("invoice.reinstated", {"invoice_id": "INV-1"})


def refund(refund_id: str, amount: str, items: list | None = None) -> dict:
    body = {"id": refund_id, "amount": amount} | ({"items": items} if items else {})
    return event("invoice.refunded", {"invoice_id": "INV-1", "refund": body})


def reversed_(refund_id: str, invoice_id: str = "INV-1") -> dict:
    return event("invoice.refund_reversed", {"invoice_id": invoice_id, "refund_id": refund_id})


@pytest.fixture
def registered(send):
    """Customer c1 is known and enrolled (50 points of registration bonus)."""
    assert send(event("customer.created", {"customer": customer()})).status == 200
    return send


def test_a_reversed_refund_gives_back_what_it_took_once(registered, shop) -> None:
    """125.00 earns 12; a 62.50 refund takes 6; reversing it gives the 6 back, once: a
    second reversal, under another webhook-id, and the refund sent again change nothing."""
    registered(PAID)
    registered(refund("R1", "62.50"))
    assert balance(shop) == 56
    answer = registered(reversed_("R1"))
    assert answer.status == 200, answer.body
    assert answer.body["result"]["points_earned"] == 6
    assert balance(shop) == 62
    again = registered(reversed_("R1"))
    assert again.body["result"]["points_earned"] == 0
    assert "already_counted_by" in again.body["result"]
    registered(refund("R1", "62.50"))
    assert balance(shop) == 62
    assert shop.scalar(select(Invoice.refunded_total)) == 0
    assert ledger_points(shop) == [("earn", 50), ("earn", 12), ("reverse", -6), ("earn", 6)]
    assert verify_ledger(shop) == []


def test_only_that_refund_comes_back(registered, shop) -> None:
    """Two refunds of 25.00 (2 points each, 4 together); reversing one leaves the other's."""
    registered(PAID)
    registered(refund("R1", "25.00"))
    registered(refund("R2", "25.00"))
    assert balance(shop) == 50 + 12 - 5
    registered(reversed_("R1"))
    assert balance(shop) == 50 + 12 - 2
    registered(reversed_("R2"))
    assert balance(shop) == 62
    assert verify_ledger(shop) == []


def test_a_refund_by_line_is_reversed_by_line(registered, shop) -> None:
    """A refund of one of two lines (clipped to what is left of it) comes back exactly."""
    lines = [{"id": "L1", "qty": 2, "total": "100.00"}, {"id": "L2", "qty": 1, "total": "25.00"}]
    registered(event("invoice.paid", {"invoice": invoice(items=lines)}))
    registered(refund("R1", "50.00", [{"line_id": "L1", "qty": 1}]))
    registered(refund("R2", "100.00", [{"line_id": "L1", "qty": 2}]))  # clipped to 1
    assert balance(shop) == 50 + 12 - 10
    registered(reversed_("R2"))
    assert balance(shop) == 50 + 12 - 5
    registered(reversed_("R1"))
    assert balance(shop) == 62
    line = shop.scalar(select(Invoice.items))[0]
    assert line["id"] == "L1" and line["refunded"] == "0"
    assert verify_ledger(shop) == []


@pytest.mark.parametrize("order", list(permutations(("paid", "refund", "reversed"))), ids="-".join)
def test_every_order(registered, shop, order) -> None:
    """A reversal that arrives before its refund (or its invoice) waits: 62 in every order."""
    bodies = {"paid": PAID, "refund": refund("R1", "62.50"), "reversed": reversed_("R1")}
    answers = [registered(bodies[name]) for name in order]
    assert all(a.status in (200, 202) for a in answers), [a.body for a in answers]
    assert balance(shop) == 62
    assert set(shop.scalars(select(WebhookEvent.status)).all()) == {"processed"}
    assert verify_ledger(shop) == []


def test_an_unknown_refund_waits_and_says_why(registered, shop) -> None:
    """A refund never sent: the reversal waits (202) naming the refund it waits for."""
    registered(PAID)
    answer = registered(reversed_("R9"))
    assert answer.status == 202
    row = shop.scalars(select(WebhookEvent).order_by(WebhookEvent.id.desc())).first()
    assert row.result["reason"] == "refund R9 of invoice INV-1 is not known yet"
    assert balance(shop) == 62


def test_a_refund_reversed_while_cancelled_counts_when_reinstated(registered, shop) -> None:
    """Cancelled: nothing comes back now; reinstated: all 12, the refund being undone."""
    registered(PAID)
    registered(refund("R1", "62.50"))
    registered(CANCELLED)
    assert registered(reversed_("R1")).body["result"]["points_earned"] == 0
    assert balance(shop) == 50
    registered(REINSTATED)
    assert balance(shop) == 62
    assert verify_ledger(shop) == []


def test_a_refund_counted_before_reversals_by_amount_is_reversed(registered, shop) -> None:
    """A refund whose event result has no ``refund_counted`` (counted by an older
    version): by amount, its own amount is used; by line, the reversal is refused (422)."""
    registered(PAID)
    registered(refund("R1", "25.00"))
    registered(refund("R2", "25.00", [{"line_id": "L1", "qty": "0.2"}]))
    for row in shop.scalars(select(WebhookEvent)).all():
        if row.result and "refund_counted" in row.result:
            row.result = {k: v for k, v in row.result.items() if k != "refund_counted"}
    shop.commit()
    assert registered(reversed_("R1")).body["result"]["points_earned"] > 0
    assert balance(shop) == 50 + 10, "what 100.00 of 125.00 keeps, as R2 alone refunded"
    refused = registered(reversed_("R2"))
    assert refused.status == 422
    assert "data.refund_id" in refused.body["error"]["fields"]


@pytest.mark.backends("postgresql", "mariadb")
def test_reversals_racing_their_refund(served, host) -> None:  # noqa: F811
    """The refund and five copies of its reversal (five webhook-ids) at once on real
    threads: the 6 points come back once, whichever arrives first."""
    paid = event("invoice.paid", {"invoice": invoice(customer=customer())})
    assert post_all(served, [signed(paid, msg_id="paid")])[0][0] == 200
    deliveries = [signed(reversed_("R1"), msg_id=f"reversed-{n}") for n in range(5)]
    deliveries.append(signed(refund("R1", "62.50"), msg_id="refund"))
    answers = post_all(served, deliveries)
    codes = Counter(code for code, _ in answers)
    assert codes[200] >= 1 and codes[200] + codes[202] == 6, codes
    with host.app_context():
        session = host.extensions["loyalty"].db.session
        statuses = session.scalars(select(WebhookEvent.status)).all()
        assert set(statuses) == {"processed"}, statuses
        assert balance(session) == 62
        assert verify_ledger(session) == []
