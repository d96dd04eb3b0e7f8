"""``invoice.reinstated``: a cancelled invoice is live again and earns again, exactly once."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import select

from loyalty_plugin.models import Invoice, InvoiceStatus
from loyalty_plugin.services.ledger.integrity import verify_ledger
from tests.webhooks.conftest import (
    balance,
    customer,
    event,
    invoice,
    ledger_points,
    replace_default_program,
    signed,
)
from tests.webhooks.test_concurrency import post_all, served  # noqa: F401 - fixture

REINSTATED = event("invoice.reinstated", {"invoice_id": "INV-1"})
CANCELLED = event("invoice.cancelled", {"invoice_id": "INV-1"})


def refund(refund_id: str, amount: str) -> dict:
    return event(
        "invoice.refunded", {"invoice_id": "INV-1", "refund": {"id": refund_id, "amount": amount}}
    )


@pytest.fixture
def registered(send):
    """Customer c1 is known and enrolled (50 points of registration bonus)."""
    assert send(event("customer.created", {"customer": customer()})).status == 200
    return send


def test_a_reinstated_invoice_earns_again_once(registered, shop) -> None:
    """Cancel then reinstate gives the 12 points back; a second reinstatement adds none;
    a later refund and a second cancellation take back from the points given again."""
    registered(event("invoice.paid", {"invoice": invoice()}))
    registered(CANCELLED)
    assert balance(shop) == 50
    back = registered(REINSTATED)
    assert back.status == 200 and back.body["result"]["points_earned"] == 12
    assert balance(shop) == 62
    again = registered(REINSTATED)
    assert again.body["result"]["points_earned"] == 0
    assert again.body["result"]["not_cancelled"] is True
    assert balance(shop) == 62
    assert shop.scalar(select(Invoice.status)) == InvoiceStatus.PAID
    registered(refund("R1", "62.50"))
    assert balance(shop) == 56
    registered(CANCELLED)
    assert balance(shop) == 50
    registered(REINSTATED)
    assert balance(shop) == 56
    assert ledger_points(shop) == [
        ("earn", 50),
        ("earn", 12),
        ("reverse", -12),
        ("earn", 12),
        ("reverse", -6),
        ("reverse", -6),
        ("earn", 6),
    ]
    assert verify_ledger(shop) == []


def test_a_never_cancelled_invoice_is_not_reinstated(registered, shop) -> None:
    """Reinstating a live invoice changes nothing; an unknown one waits for its invoice."""
    registered(event("invoice.paid", {"invoice": invoice()}))
    answer = registered(REINSTATED)
    assert answer.status == 200 and answer.body["result"]["not_cancelled"] is True
    assert balance(shop) == 62
    early = registered(event("invoice.reinstated", {"invoice_id": "INV-2"}))
    assert early.status == 202


def test_refunds_while_cancelled_count_when_reinstated(registered, shop) -> None:
    """A refund during the cancellation is not lost: reinstating gives back only the rest."""
    registered(event("invoice.paid", {"invoice": invoice()}))
    registered(CANCELLED)
    registered(refund("R1", "62.50"))
    assert balance(shop) == 50
    assert registered(REINSTATED).body["result"]["points_earned"] == 6
    assert balance(shop) == 56
    registered(refund("R1", "62.50"))
    assert balance(shop) == 56


def test_an_unpaid_invoice_reinstated_earns_when_paid(registered, shop) -> None:
    """Cancelled while open, reinstated: nothing to give back; paid later, it earns."""
    payment = {"id": "P1", "amount": "25.00"}
    registered(event("invoice.payment_recorded", {"invoice": invoice(), "payment": payment}))
    registered(CANCELLED)
    assert registered(REINSTATED).body["result"]["points_earned"] == 0
    assert shop.scalar(select(Invoice.status)) == InvoiceStatus.OPEN
    registered(event("invoice.paid", {"invoice": invoice()}))
    assert balance(shop) == 62


@pytest.mark.backends("postgresql", "mariadb")
def test_reinstatements_racing_a_refund_earn_once(served, host) -> None:  # noqa: F811
    """A cancelled invoice: ten reinstatements (ten webhook-ids) and a refund of half at
    once, on real threads. One reinstatement gives points back, and whichever order the
    refund took, the customer ends with what the half still paid earned (6)."""
    paid = event("invoice.paid", {"invoice": invoice(customer=customer())})
    for number, body in enumerate((paid, CANCELLED)):
        assert post_all(served, [signed(body, msg_id=f"setup-{number}")])[0][0] == 200
    deliveries = [signed(REINSTATED, msg_id=f"reinstate-{n}") for n in range(10)]
    deliveries.append(signed(refund("R1", "62.50"), msg_id="refund"))
    answers = post_all(served, deliveries)
    assert Counter(code for code, _ in answers) == {200: 11}
    given = sorted(body["result"]["points_earned"] for _, body in answers[:10])
    assert given[:9] == [0] * 9 and given[9] in (6, 12)
    with host.app_context():
        session = host.extensions["loyalty"].db.session
        assert balance(session) == 56
        assert verify_ledger(session) == []
    assert ledger_points(host)[:3] == [("earn", 50), ("earn", 12), ("reverse", -12)]


@pytest.mark.backends("postgresql", "mariadb")
def test_a_reinstatement_racing_a_cancellation_settles_by_order(served, host) -> None:  # noqa: F811
    """A paid invoice cancelled and reinstated at once: the balance always matches the
    invoice's final state (cancelled: 50; live again: 62), never 74 or 38."""
    paid = event("invoice.paid", {"invoice": invoice(customer=customer())})
    assert post_all(served, [signed(paid, msg_id="paid")])[0][0] == 200
    answers = post_all(
        served, [signed(CANCELLED, msg_id="cancel"), signed(REINSTATED, msg_id="again")]
    )
    assert [code for code, _ in answers] == [200, 200]
    with host.app_context():
        session = host.extensions["loyalty"].db.session
        status = session.scalar(select(Invoice.status))
        expected = 50 if status == InvoiceStatus.CANCELLED else 62
        assert balance(session) == expected
        assert verify_ledger(session) == []


def paid_by(payment_id: str, amount: str, **item: str) -> dict:
    """``invoice.payment_recorded`` for INV-1 (125.00); ``item`` adds to its one line."""
    lines = [{"id": "L1", "qty": 1, "total": "125.00"} | item]
    return event(
        "invoice.payment_recorded",
        {"invoice": invoice(items=lines), "payment": {"id": payment_id, "amount": amount}},
    )


def test_a_payment_recorded_while_cancelled_counts_once_reinstated(registered, shop) -> None:
    """100.00 paid, the invoice cancelled, the last 25.00 recorded meanwhile: reinstated, it
    is paid in full and earns its 12 points (not 0), once."""
    registered(paid_by("P1", "100.00"))
    registered(CANCELLED)
    while_cancelled = registered(paid_by("P2", "25.00"))
    assert while_cancelled.body["result"]["points_earned"] == 0
    assert balance(shop) == 50
    back = registered(REINSTATED)
    assert back.body["result"]["points_earned"] == 12
    assert balance(shop) == 62
    assert shop.scalar(select(Invoice.status)) == InvoiceStatus.PAID
    registered(REINSTATED)
    registered(paid_by("P2", "25.00"))
    assert balance(shop) == 62
    assert verify_ledger(shop) == []


def test_product_rules_see_the_stored_lines_when_reinstated(registered, shop, now) -> None:
    """A rule on product SHOE: the stored line keeps its product, so the invoice paid in
    full while cancelled earns the product's points when reinstated."""
    rules = [{"kind": "product", "products": ["SHOE"], "points_per_unit": "7"}]
    replace_default_program(shop, now=now, rules=rules)
    registered(paid_by("P1", "100.00", product_id="SHOE"))
    registered(CANCELLED)
    registered(paid_by("P2", "25.00", product_id="SHOE"))
    registered(REINSTATED)
    assert balance(shop) == 50 + 7
    assert verify_ledger(shop) == []


def test_each_payment_programs_count_a_payment_made_while_cancelled(registered, shop, now) -> None:
    """Earning on each payment: 100.00 earns 10, the cancellation takes them, 25.00 comes
    meanwhile; reinstated, the invoice holds 12."""
    replace_default_program(shop, now=now, earn_on="each_payment")
    registered(paid_by("P1", "100.00"))
    assert balance(shop) == 60
    registered(CANCELLED)
    registered(paid_by("P2", "25.00"))
    assert balance(shop) == 50
    registered(REINSTATED)
    assert balance(shop) == 62
    registered(paid_by("P2", "25.00"))
    assert balance(shop) == 62
    assert verify_ledger(shop) == []
