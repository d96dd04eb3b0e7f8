"""Every earning answer that earns nothing says why ([#13], what a new integrator hit, 1)."""

from __future__ import annotations

from tests.webhooks.conftest import customer, event, invoice, replace_default_program


def result(answer) -> dict:
    assert answer.status == 200, answer.body
    return answer.body["result"]


def test_an_invoice_dated_before_every_program_says_no_program_was_in_force(
    send, shop, now
) -> None:
    """The merchant's only program starts today: yesterday's invoice earns 0, and says why."""
    replace_default_program(shop, now=now, starts=now)
    send(event("customer.created", {"customer": customer()}))
    paid = event("invoice.paid", {"invoice": invoice()}, occurred_at="2026-01-14T12:00:00Z")
    answer = result(send(paid))
    assert answer["points_earned"] == 0
    assert answer["reason"] == "no program in force on 2026-01-14"


def test_a_customer_not_enrolled_is_told_so(send) -> None:
    """The default program is for enrolled customers."""
    send(event("customer.created", {"customer": customer(enrolled=False)}))
    answer = result(send(event("invoice.paid", {"invoice": invoice()})))
    assert (answer["points_earned"], answer["reason"]) == (0, "the customer is not enrolled")


def test_an_invoice_of_excluded_lines_says_they_are_excluded(send) -> None:
    """Gift cards earn nothing, and the answer names the excluded tags."""
    send(event("customer.created", {"customer": customer()}))
    lines = [{"id": "L1", "qty": 1, "total": "125.00", "tags": ["gift_card"]}]
    answer = result(send(event("invoice.paid", {"invoice": invoice(items=lines)})))
    assert answer["points_earned"] == 0
    assert answer["reason"] == "every line is excluded (tags: gift_card, promotional)"


def test_a_payment_and_a_repeat_say_why_they_earn_nothing(send) -> None:
    """A partial payment waits for the invoice to be paid; a second invoice.paid earned it."""
    send(event("customer.created", {"customer": customer()}))
    payment = {"invoice": invoice(), "payment": {"id": "P1", "amount": "25.00"}}
    answer = result(send(event("invoice.payment_recorded", payment)))
    assert answer["reason"] == "points are earned once the invoice is paid"
    assert result(send(event("invoice.paid", {"invoice": invoice()})))["points_earned"] == 12
    again = result(send(event("invoice.paid", {"invoice": invoice()}), event_id="other"))
    assert (again["points_earned"], again["reason"]) == (0, "the invoice earned already")


def test_events_without_a_rule_or_past_their_limit_say_so(send) -> None:
    """No custom-event rule in the default program; a second birthday that year is counted."""
    send(event("customer.created", {"customer": customer()}))
    custom = {"customer_id": "c1", "name": "review", "properties": {}}
    answer = result(send(event("event.custom", custom)))
    assert answer["reason"] == "no rule of the program earns on custom"
    birthday = {"customer_id": "c1", "date": "2026-01-15"}
    assert result(send(event("customer.birthday", birthday)))["points_earned"] == 100
    again = result(send(event("customer.birthday", birthday), event_id="again"))
    assert again["reason"] == "this year's birthday bonus was counted already"
