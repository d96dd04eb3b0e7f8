"""``invoice.reinstated`` takes back the points its cancellation returned from a points
payment on the invoice (#16).

Before: an invoice paid in part with points (a captured hold of 20) was cancelled, which
gave the 20 back, and reinstated, which earned its 12 again but left the customer the 20
as well: the invoice was paid once more and the points spent on it were free.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from loyalty_plugin.models import Account, Redemption
from loyalty_plugin.services.customers import portal
from loyalty_plugin.services.ledger.integrity import verify_ledger
from loyalty_plugin.services.spending.redemption import release_redemption
from tests.webhooks.conftest import balance, customer, event, invoice
from tests.webhooks.test_concurrency import post_all, served  # noqa: F401 - fixture
from tests.webhooks.test_refund_reversed import refund
from tests.webhooks.test_refund_reversed_redemption import (
    debt,
    hold,
    paid_with_20_points,
    race_a_hold,
    released,
)


def cancelled() -> dict:
    return event("invoice.cancelled", {"invoice_id": "INV-1"})


def reinstated() -> dict:
    return event("invoice.reinstated", {"invoice_id": "INV-1"})


@pytest.fixture
def paid(send, shop, now):
    """c1: 50 registration points, 20 of them paid INV-1 (125.00, earns 12): balance 42."""
    assert send(event("customer.created", {"customer": customer()})).status == 200
    held = hold(shop, now, "INV-1", 20)
    answer = send(event("invoice.paid", {"invoice": invoice(redemption_id=held.id)}))
    assert answer.body["result"]["redemption"]["status"] == "captured"
    assert balance(shop) == 42
    return send


def returned(session) -> int:
    session.expire_all()
    return session.scalars(select(Redemption.returned_points).filter_by(invoice_id="INV-1")).one()


def test_a_reinstatement_takes_back_what_the_cancellation_returned(paid, shop) -> None:
    assert paid(cancelled()).status == 200
    assert balance(shop) == 50
    answer = paid(reinstated())
    assert answer.status == 200, answer.body
    result = answer.body["result"]
    assert (result["points_earned"], result["points_taken_back"]) == (12, 20)
    assert (balance(shop), returned(shop)) == (42, 0)
    again = paid(reinstated())
    assert "points_taken_back" not in again.body["result"]
    assert balance(shop) == 42
    assert verify_ledger(shop) == []


def test_a_refund_before_the_cancellation_stays_returned(paid, shop) -> None:
    """Half refunded (10 returned, 6 earned taken), cancelled (the other 10 returned),
    reinstated: only the cancellation's 10 are taken back, as after the refund alone."""
    assert paid(refund("R1", "62.50")).body["result"]["points_returned"] == 10
    assert balance(shop) == 46
    paid(cancelled())
    answer = paid(reinstated())
    assert answer.body["result"]["points_taken_back"] == 10
    assert (balance(shop), returned(shop)) == (46, 10)
    assert verify_ledger(shop) == []


def test_a_later_refund_returns_them_again(paid, shop) -> None:
    paid(cancelled())
    paid(reinstated())
    answer = paid(refund("R1", "125.00"))
    assert answer.status == 200, answer.body
    assert answer.body["result"]["points_returned"] == 20
    assert (balance(shop), debt(shop)) == (50, 0)
    assert verify_ledger(shop) == []


def test_cancelled_and_reinstated_twice(paid, shop) -> None:
    for _ in range(2):
        paid(cancelled())
        assert balance(shop) == 50
        assert paid(reinstated()).body["result"]["points_taken_back"] == 20
        assert balance(shop) == 42
    assert verify_ledger(shop) == []


def test_points_set_aside_meanwhile_are_owed(paid, shop, now) -> None:
    """All 50 held on B after the cancellation: the reinstatement earns 12, takes them and
    owes 8 (debt); releasing B repays it: 42, as if the invoice was never cancelled."""
    paid(cancelled())
    held = hold(shop, now, "B", 50, total="1000")
    answer = paid(reinstated())
    assert answer.body["result"]["points_taken_back"] == 20
    assert (balance(shop), debt(shop)) == (-8, 8)
    assert verify_ledger(shop) == []
    release_redemption(shop, merchant_id="shop", redemption_id=held.id, now=now, actor="api")
    shop.commit()
    assert (balance(shop), debt(shop)) == (42, 0)
    assert verify_ledger(shop) == []


@pytest.mark.backends("postgresql", "mariadb")
def test_a_reinstatement_racing_a_hold(served, host) -> None:  # noqa: F811
    """The reinstatement and a hold of all 50 points at once on real threads: once B is
    released the customer has 42 and owes nothing, whichever came first."""
    paid_with_20_points(served, host, cancelled())
    held = race_a_hold(served, host, 50, reinstated())
    assert released(host, held) == (42, 0), held


def labels(session) -> list[str]:
    """The points history's labels, oldest first."""
    session.expire_all()
    account = session.scalars(select(Account)).one()
    return [line.label for line in reversed(portal.points_log(session, account, page=1).lines)]


def test_the_history_says_why_points_were_taken_back_and_returned(paid, shop) -> None:
    """Taken back on reinstatement, taken back when a refund was undone, and returned by a
    later refund through the take-back's reversal: each in a customer's words (the
    reversal read "Points taken back (refund)", the take-backs "Points spent")."""
    paid(cancelled())
    paid(reinstated())
    assert labels(shop)[-1] == "Points taken back (order reinstated)"
    paid(refund("R1", "62.50"))
    paid(event("invoice.refund_reversed", {"invoice_id": "INV-1", "refund_id": "R1"}))
    assert labels(shop)[-1] == "Points taken back (refund undone)"
    paid(refund("R2", "125.00"))
    assert "Points returned (refund)" in labels(shop)[-3:]
    assert "Points taken back (refund)" in labels(shop)[-3:]  # the 12 earned ones
