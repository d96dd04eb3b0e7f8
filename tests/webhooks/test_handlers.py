"""Event handlers: each business fact counted once, in whatever order events arrive."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from loyalty_plugin.models import Account, Customer, Invoice, InvoiceStatus
from loyalty_plugin.services.ledger.integrity import verify_ledger
from tests.webhooks.conftest import customer, event, invoice, ledger_points


def balance(session, host_id: str = "c1") -> int:
    return session.scalar(
        select(Account.balance).join(Customer).where(Customer.host_customer_id == host_id)
    )


@pytest.fixture
def registered(send):
    """Customer c1 is known and enrolled (50 points of registration bonus)."""
    assert send(event("customer.created", {"customer": customer()})).status == 200
    return send


def test_customer_created_saves_every_profile_field(send, shop) -> None:
    """Profile, enrolment, consents, group and card number are stored; bonus once."""
    fields = {
        "id": 42,
        "first_name": "Ana",
        "last_name": "Horvat",
        "email": "ana@example.com",
        "phone": "+385 1 234",
        "date_of_birth": "1990-02-03",
        "group": "wholesale",
        "enrolled": True,
        "email_opt_in": True,
        "sms_opt_in": False,
        "card_number": "CARD-7",
    }
    answer = send(event("customer.created", {"customer": fields}))
    assert answer.status == 200 and answer.body["result"]["points_earned"] == 50
    saved = shop.scalars(select(Customer).where(Customer.host_customer_id == "42")).one()
    assert (saved.last_name, saved.customer_group, saved.card_number) == (
        "Horvat",
        "wholesale",
        "CARD-7",
    )
    assert saved.email_opt_in and not saved.sms_opt_in and str(saved.date_of_birth) == "1990-02-03"
    send(event("customer.updated", {"customer": {"id": "42", "group": "retail"}}))
    shop.expire_all()
    assert saved.customer_group == "retail"
    assert ledger_points(shop) == [("earn", 50)]


def test_an_update_for_an_unknown_customer_waits_for_the_creation(
    send, shop, without_first_sight
) -> None:
    """First sight off: customer.updated without a first name waits for customer.created."""
    early = send(event("customer.updated", {"customer": {"id": "c1", "group": "vip"}}))
    assert early.status == 202 and early.body["event_status"] == "waiting"
    created = send(event("customer.created", {"customer": customer(group="retail")}))
    assert created.body["result"]["released"] == [early.body["event_id"]]
    assert shop.scalar(select(Customer.customer_group)) == "vip"


def test_a_customer_not_enrolled_earns_nothing(send, shop) -> None:
    """enrolled=false: no registration bonus and no points on invoices."""
    send(event("customer.created", {"customer": customer(enrolled=False)}))
    answer = send(event("invoice.paid", {"invoice": invoice()}))
    assert answer.body["result"]["points_earned"] == 0
    assert ledger_points(shop) == []


def test_invoice_paid_earns_one_point_per_ten_rounded_down(registered, shop) -> None:
    """129.99 EUR earns 12 points under the default program, once, saying which program."""
    answer = registered(event("invoice.paid", {"invoice": invoice(total="129.99")}))
    assert answer.body["result"]["points_earned"] == 12
    assert [(p["program"], p["points_earned"]) for p in answer.body["result"]["programs"]] == [
        ("default", 12)
    ]
    assert balance(shop) == 62


def test_an_invoice_in_another_currency_uses_its_exchange_rate(registered, shop) -> None:
    """200 USD at 0.9 is 180 EUR: 18 points; without a rate the event is refused."""
    usd = invoice("INV-2", total="200.00", currency="USD", exchange_rate="0.9")
    assert registered(event("invoice.paid", {"invoice": usd})).body["result"]["points_earned"] == 18
    refused = registered(event("invoice.paid", {"invoice": invoice("INV-3", currency="USD")}))
    assert refused.status == 422
    assert "data.invoice.exchange_rate" in refused.body["error"]["fields"]


def test_an_invoice_for_an_unknown_customer_waits_for_them(send, shop, without_first_sight) -> None:
    """First sight off: the invoice waits (202) and earns once customer.created arrives."""
    early = send(event("invoice.paid", {"invoice": invoice()}))
    assert early.status == 202
    send(event("customer.created", {"customer": customer()}))
    assert ledger_points(shop) == [("earn", 50), ("earn", 12)]


def test_payments_wait_for_the_invoice_to_be_paid(registered, shop) -> None:
    """A partial payment earns nothing; invoice.paid earns on the whole total once."""
    pay = {"invoice": invoice(total="100.00"), "payment": {"id": "P1", "amount": "40.00"}}
    first = registered(event("invoice.payment_recorded", pay))
    assert first.body["result"]["points_earned"] == 0
    assert registered(event("invoice.payment_recorded", pay)).body["result"]["already_counted_by"]
    registered(event("invoice.paid", {"invoice": invoice(total="100.00")}))
    assert ledger_points(shop) == [("earn", 50), ("earn", 10)]
    assert shop.scalar(select(Invoice.paid_total)) == 40


def test_payments_covering_the_total_count_as_paid(registered, shop) -> None:
    """Two payments of 50 on a 100 invoice earn 10 points; a later invoice.paid adds none."""
    for number in (1, 2):
        pay = {"invoice": invoice(total="100.00"), "payment": {"id": f"P{number}", "amount": 50}}
        registered(event("invoice.payment_recorded", pay))
    registered(event("invoice.paid", {"invoice": invoice(total="100.00")}))
    assert ledger_points(shop) == [("earn", 50), ("earn", 10)]


def test_refunds_reverse_in_proportion_on_the_running_total(registered, shop) -> None:
    """12 points on 125.00; refunds of 25 and 37.50 reverse 6 in all (floor of 12 x 62.5/125)."""
    registered(event("invoice.paid", {"invoice": invoice()}))
    for refund_id, amount in (("R1", "25.00"), ("R2", "37.50"), ("R1", "25.00")):
        refund = {"invoice_id": "INV-1", "refund": {"id": refund_id, "amount": amount}}
        registered(event("invoice.refunded", refund))
    assert ledger_points(shop) == [("earn", 50), ("earn", 12), ("reverse", -2), ("reverse", -4)]
    assert balance(shop) == 56 and verify_ledger(shop) == []


def test_a_refund_by_line_reverses_that_line_share(registered, shop) -> None:
    """Refunding 1 of 2 units of a 100.00 line on a 200.00 invoice gives back a quarter."""
    lines = [{"id": "A", "qty": 2, "total": "100.00"}, {"id": "B", "qty": 1, "total": "100.00"}]
    registered(event("invoice.paid", {"invoice": invoice(total="200.00", items=lines)}))
    refund = {"id": "R1", "amount": "0", "items": [{"line_id": "A", "qty": 1}]}
    answer = registered(event("invoice.refunded", {"invoice_id": "INV-1", "refund": refund}))
    assert answer.body["result"]["points_reversed"] == 5
    unknown = {"id": "R2", "amount": "0", "items": [{"line_id": "Z", "qty": 1}]}
    refused = registered(event("invoice.refunded", {"invoice_id": "INV-1", "refund": unknown}))
    assert (
        refused.status == 422 and "data.refund.items.0.line_id" in refused.body["error"]["fields"]
    )


def test_cancellation_reverses_everything_once(registered, shop) -> None:
    """A cancelled invoice gives back all it earned; a second cancel and a late paid add none."""
    registered(event("invoice.paid", {"invoice": invoice()}))
    registered(
        event("invoice.refunded", {"invoice_id": "INV-1", "refund": {"id": "R1", "amount": "25"}})
    )
    registered(event("invoice.cancelled", {"invoice_id": "INV-1"}))
    again = registered(event("invoice.cancelled", {"invoice_id": "INV-1"}))
    assert again.body["result"]["already_cancelled"]
    registered(event("invoice.paid", {"invoice": invoice()}))
    assert ledger_points(shop) == [("earn", 50), ("earn", 12), ("reverse", -2), ("reverse", -10)]
    assert shop.scalar(select(Invoice.status)) == InvoiceStatus.CANCELLED


def test_a_cancellation_before_its_invoice_leaves_nothing_earned(registered, shop) -> None:
    """Cancel (waits), then paid: the invoice earns and is reversed in the same transaction."""
    early = registered(event("invoice.cancelled", {"invoice_id": "INV-1"}))
    assert early.status == 202
    registered(event("invoice.paid", {"invoice": invoice()}))
    assert balance(shop) == 50
    assert verify_ledger(shop) == []


def test_birthday_bonus_once_per_customer_and_year(registered, shop) -> None:
    """Two birthdays in 2026 (under two webhook-ids) earn once; 2027 earns again."""
    for day in ("2026-02-03", "2026-02-03", "2027-02-03"):
        at = f"{day}T08:00:00Z"
        registered(event("customer.birthday", {"customer_id": "c1", "date": day}, occurred_at=at))
    assert ledger_points(shop) == [("earn", 50), ("earn", 100), ("earn", 100)]


def test_custom_events_are_processed_for_plugins(registered, shop) -> None:
    """event.custom is stored and processed; with no plugin it earns nothing."""
    answer = registered(
        event("event.custom", {"customer_id": "c1", "name": "review", "properties": {"stars": 5}})
    )
    assert answer.status == 200 and answer.body["result"]["name"] == "review"
    assert ledger_points(shop) == [("earn", 50)]


def test_a_python_host_gets_the_webhook_answers(send, shop) -> None:
    """process_host_event: same validation (422 with a path), same dedup on event_id."""
    bad = send(event("invoice.paid", {"invoice": invoice(total="-1")}), event_id="e1")
    assert bad.status == 422 and "data.invoice.total" in bad.body["error"]["fields"]
    first = send(event("customer.created", {"customer": customer()}), event_id="e2")
    again = send(event("customer.created", {"customer": customer()}), event_id="e2")
    assert (first.status, again.status, again.body["status"]) == (200, 200, "duplicate")
    unknown = send(event("customer.created", {"customer": customer()}, merchant_id="nobody"))
    assert unknown.status == 422


def test_waiting_events_are_rechecked_by_the_retry_job(
    send, shop, pm, now, without_first_sight
) -> None:
    """A waiting event has a recheck time; the job runs it once what it waits for exists."""
    from loyalty_plugin.services.intake.webhooks import retry_due
    from tests.webhooks.conftest import SETTINGS

    early = send(event("invoice.paid", {"invoice": invoice()}))
    assert early.status == 202
    # The customer appears without releasing the invoice (as if committed concurrently).
    from loyalty_plugin.services.ledger.accounts import upsert_customer

    upsert_customer(shop, merchant_id="shop", host_customer_id="c1", first_name="Ana")
    shop.commit()
    later = now + timedelta(minutes=5)
    assert retry_due(shop, hooks=pm.hook, settings=SETTINGS, now=later) == {"processed": 1}
    assert ledger_points(shop) == [("earn", 12)]


def test_paid_captures_the_named_hold_and_cancel_returns_it(registered, shop, now) -> None:
    """A hold named by invoice.paid is captured; invoice.cancelled gives its points back."""
    from loyalty_plugin.domain.redemption import DraftInvoice
    from loyalty_plugin.models import Redemption, RedemptionStatus
    from loyalty_plugin.services.spending.redemption import hold_points

    hold = hold_points(
        shop,
        merchant_id="shop",
        customer_id="c1",
        now=now,
        actor="api",
        invoice=DraftInvoice(id="INV-1", currency="EUR", total=Decimal("125")),
        points=20,
    )
    shop.commit()
    paid = registered(event("invoice.paid", {"invoice": invoice(redemption_id=hold.id)}))
    assert paid.body["result"]["redemption"] == {"id": hold.id, "status": "captured"}
    assert balance(shop) == 50 - 20 + 12
    registered(event("invoice.cancelled", {"invoice_id": "INV-1"}))
    shop.expire_all()
    assert shop.get(Redemption, hold.id).returned_points == 20
    assert shop.get(Redemption, hold.id).status == RedemptionStatus.CAPTURED
    assert balance(shop) == 50 and verify_ledger(shop) == []


def test_a_cancel_releases_a_hold_before_the_invoice_is_known(registered, shop, now) -> None:
    """A hold taken at checkout is released by a cancellation that waits for its invoice."""
    from loyalty_plugin.domain.redemption import DraftInvoice
    from loyalty_plugin.models import Redemption, RedemptionStatus
    from loyalty_plugin.services.spending.redemption import hold_points

    hold = hold_points(
        shop,
        merchant_id="shop",
        customer_id="c1",
        now=now,
        actor="api",
        invoice=DraftInvoice(id="INV-9", currency="EUR", total=Decimal("125")),
        points=20,
    )
    shop.commit()
    answer = registered(event("invoice.cancelled", {"invoice_id": "INV-9"}))
    assert answer.status == 202
    shop.expire_all()
    assert shop.get(Redemption, hold.id).status == RedemptionStatus.RELEASED
    assert balance(shop) == 50
