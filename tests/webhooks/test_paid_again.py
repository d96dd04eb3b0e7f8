"""A payment deleted and recorded again earns its share again (#16): never lose a point.

A deleted payment reaches the plugin as a refund of its amount, which takes its share of the
points back. Before #16 the payment recorded again earned nothing (the invoice earned once),
so the customer lost that share for good. Money paid on a paid invoice beyond its total (the
invoice's payments, counted once each) now pays back refunds by amount, as new earn entries.
"""

from __future__ import annotations

from collections import Counter
from itertools import permutations

import pytest

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

#: The invoice's two payments as the host names them when it is paid.
PAYMENTS = [{"id": "P1", "amount": "100.00"}, {"id": "P2", "amount": "25.00"}]


def paid(payments: list[dict] | None = PAYMENTS) -> dict:
    data = {"invoice": invoice()} | ({"payments": payments} if payments is not None else {})
    return event("invoice.paid", data)


def payment(payment_id: str, amount: str) -> dict:
    return event(
        "invoice.payment_recorded",
        {"invoice": invoice(), "payment": {"id": payment_id, "amount": amount}},
    )


def refund(refund_id: str, amount: str) -> dict:
    return event(
        "invoice.refunded", {"invoice_id": "INV-1", "refund": {"id": refund_id, "amount": amount}}
    )


DELETED = refund("payment-P2-deleted", "25.00")
AGAIN = payment("P3", "25.00")


@pytest.fixture
def registered(send):
    """Customer c1 is known and enrolled (50 points of registration bonus)."""
    assert send(event("customer.created", {"customer": customer()})).status == 200
    return send


def test_a_payment_recorded_again_earns_what_its_deletion_took(registered, shop) -> None:
    """125.00 paid in two payments earns 12; deleting the 25.00 one takes 2 back; the
    payment recorded again gives them back: the same 62 as if it had never been deleted."""
    registered(paid())
    assert balance(shop) == 62
    registered(DELETED)
    assert balance(shop) == 60
    answer = registered(AGAIN)
    assert answer.status == 200, answer.body
    assert answer.body["result"]["points_earned"] == 2
    assert balance(shop) == 62
    assert ledger_points(shop) == [("earn", 50), ("earn", 12), ("reverse", -2), ("earn", 2)]
    assert verify_ledger(shop) == []


def test_never_twice(registered, shop) -> None:
    """The same payment again, a payment the paid invoice named, a second copy of the
    paid invoice: nothing more. A second deletion and re-recording cycle nets the same."""
    registered(paid())
    registered(DELETED)
    registered(AGAIN)
    assert registered(AGAIN, event_id="again-2").body["result"]["points_earned"] == 0
    assert registered(payment("P1", "100.00")).body["result"]["points_earned"] == 0
    assert registered(paid(), event_id="paid-2").body["result"]["points_earned"] == 0
    assert balance(shop) == 62
    registered(refund("payment-P3-deleted", "25.00"))
    assert balance(shop) == 60
    registered(payment("P4", "25.00"))
    assert balance(shop) == 62
    assert verify_ledger(shop) == []


@pytest.mark.parametrize("order", list(permutations(("paid", "deleted", "again"))), ids="-".join)
def test_every_order(registered, shop, order) -> None:
    """Paid, deleted, recorded again, in any order: 62, every event processed."""
    bodies = {"paid": paid(), "deleted": DELETED, "again": AGAIN}
    answers = [registered(bodies[name]) for name in order]
    assert all(a.status in (200, 202) for a in answers), [a.body for a in answers]
    assert balance(shop) == 62
    assert verify_ledger(shop) == []


@pytest.mark.parametrize("order", list(permutations(("deleted", "again"))), ids="-".join)
def test_a_paid_invoice_that_named_no_payments(registered, shop, order) -> None:
    """A host that sends each payment and then invoice.paid (no ``payments``): the same."""
    registered(payment("P1", "100.00"))
    registered(payment("P2", "25.00"))
    registered(paid(payments=None))
    bodies = {"deleted": DELETED, "again": AGAIN}
    for name in order:
        registered(bodies[name])
    assert balance(shop) == 62
    assert verify_ledger(shop) == []


def test_a_late_copy_of_a_payment_gives_nothing_back(registered, shop) -> None:
    """A payment delivered after invoice.paid that was part of its total is not money paid
    again: a real refund of 25.00 keeps its 2 points taken."""
    registered(paid(payments=None))
    registered(refund("R1", "25.00"))
    registered(payment("P1", "100.00"))
    registered(payment("P2", "25.00"))
    assert balance(shop) == 60
    assert verify_ledger(shop) == []


def test_under_a_program_that_earns_on_each_payment(registered, shop, now) -> None:
    """1 point per 10.00 on each payment: 100 + 25 earn 12; the 25.00 deleted and recorded
    again: 12 again; a payment deleted and recorded again before the rest is paid: the
    same 12 once the invoice is paid."""
    replace_default_program(shop, now=now, earn_on="each_payment")
    registered(payment("P1", "100.00"))
    registered(refund("payment-P1-deleted", "100.00"))
    registered(payment("P1b", "100.00"))
    registered(payment("P2", "25.00"))
    assert balance(shop) == 50 + 12
    registered(DELETED)
    registered(AGAIN)
    assert balance(shop) == 50 + 12
    assert verify_ledger(shop) == []


@pytest.mark.backends("postgresql", "mariadb")
def test_a_deletion_racing_its_payment_recorded_again(served, host) -> None:  # noqa: F811
    """The deletion's refund and the payment recorded again, each sent five times under
    different webhook-ids, all at once on real threads: 62, whatever the order."""
    body = paid()
    body["data"]["invoice"]["customer"] = customer()
    assert post_all(served, [signed(body, msg_id="paid")])[0][0] == 200
    deliveries = [signed(DELETED, msg_id=f"deleted-{n}") for n in range(5)]
    deliveries += [signed(AGAIN, msg_id=f"again-{n}") for n in range(5)]
    answers = post_all(served, deliveries)
    assert Counter(code for code, _ in answers) == {200: 10}
    with host.app_context():
        session = host.extensions["loyalty"].db.session
        assert balance(session) == 62
        assert verify_ledger(session) == []
