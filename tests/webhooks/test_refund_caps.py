"""A refund by line can never give back more than the line is worth (#12).

Issue 12, item 6: naming line L1 ten times in one refund, or refunding it ten times under
different refund ids, reversed all 100 points of a 1,000.00 invoice whose L1 is 100.00.
"""

from __future__ import annotations

import pytest

from loyalty_plugin.services.ledger.integrity import verify_ledger
from tests.webhooks.conftest import balance, customer, event, replace_default_program

LINES = [{"id": "L1", "qty": 2, "total": "100.00"}, {"id": "L2", "qty": 1, "total": "900.00"}]


def refund(refund_id: str, *lines: tuple[str, int]) -> dict:
    items = [{"line_id": line_id, "qty": qty} for line_id, qty in lines]
    body = {"id": refund_id, "amount": "0", "items": items}
    return event("invoice.refunded", {"invoice_id": "INV-1", "refund": body})


@pytest.fixture(params=["interim", "program"])
def paid(request, send, shop, now):
    """c1 earned 100 on the 1,000.00 invoice INV-1 (L1: 2 x 50.00, L2: 900.00)."""
    if request.param == "program":
        replace_default_program(shop, now=now)
    send(event("customer.created", {"customer": customer()}))
    invoice = {"id": "INV-1", "customer_id": "c1", "currency": "EUR", "total": "1000.00"}
    answer = send(event("invoice.paid", {"invoice": invoice | {"items": LINES}}))
    assert answer.body["result"]["points_earned"] == 100
    return balance(shop)


def test_naming_a_line_more_often_than_its_quantity_is_refused(send, shop, paid) -> None:
    """L1 (qty 2) named ten times in one refund: 422 on the item that goes past it."""
    answer = send(refund("R1", *[("L1", 1)] * 10))
    assert answer.status == 422
    assert "data.refund.items.2.qty" in answer.body["error"]["fields"]
    assert balance(shop) == paid


def test_refunding_a_line_under_many_ids_stops_at_the_line(send, shop, paid) -> None:
    """Ten refunds of L1 under different ids reverse L1's 10 points once; the rest clip."""
    answers = [send(refund(f"R{n}", ("L1", 2))) for n in range(10)]
    assert [a.body["result"]["points_reversed"] for a in answers] == [10] + [0] * 9
    assert answers[1].body["result"]["lines_clipped"] == {"L1": "2"}
    assert balance(shop) == paid - 10
    assert verify_ledger(shop) == []


def test_a_partial_over_refund_counts_what_is_left_of_the_line(send, shop, paid) -> None:
    """1 of L1's 2 units, then 2 more: the second counts 1 and clips 1; L2 is untouched."""
    first = send(refund("R1", ("L1", 1)))
    second = send(refund("R2", ("L1", 2)))
    assert first.body["result"]["points_reversed"] == 5
    assert second.body["result"]["points_reversed"] == 5
    assert second.body["result"]["lines_clipped"] == {"L1": "1"}
    third = send(refund("R3", ("L2", 1)))
    assert third.body["result"]["points_reversed"] == 90
    assert balance(shop) == paid - 100
    assert verify_ledger(shop) == []
