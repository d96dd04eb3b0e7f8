"""Customers on first sight: an event naming an unknown customer creates them (issue 13)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import func, select

from loyalty_plugin.models import Customer, InboxStatus, WebhookEvent
from loyalty_plugin.services.intake.webhooks import retry_due
from loyalty_plugin.services.ledger.integrity import verify_ledger
from loyalty_plugin.services.spending.settings import update_settings
from tests.conftest import serving
from tests.webhooks.conftest import SETTINGS, customer, event, invoice, ledger_points, signed
from tests.webhooks.test_concurrency import post_all


def configure(session, now, merchant_id: str = "shop", **changes) -> None:
    update_settings(session, merchant_id=merchant_id, changes=changes, now=now, actor="test")
    session.commit()


def the_customer(session, host_id: str = "c1") -> Customer:
    session.expire_all()
    return session.scalars(select(Customer).where(Customer.host_customer_id == host_id)).one()


def test_an_invoice_for_an_unknown_customer_creates_them(send, shop) -> None:
    """invoice.paid naming an unknown customer: created enrolled, profile pending, earns."""
    answer = send(event("invoice.paid", {"invoice": invoice()}))
    assert answer.status == 200, answer.body
    result = answer.body["result"]
    assert result["points_earned"] == 12
    created = result["customer_created"]
    assert {k: created[k] for k in ("customer_id", "enrolled", "profile_pending")} == {
        "customer_id": "c1",
        "enrolled": True,
        "profile_pending": True,
    }
    assert (created["registered"], created["points_earned"]) == (True, 50)
    saved = the_customer(shop)
    assert (saved.profile_pending, saved.enrolled, saved.first_name) == (True, True, "")
    assert ledger_points(shop) == [("earn", 50), ("earn", 12)]


def test_under_a_program_the_customer_created_note_has_the_documented_fields(send, shop) -> None:
    """With the merchant's (default) program giving the registration bonus,
    ``customer_created`` is the documented note, not the registration's whole earning
    answer (``entry_ids``, ``programs``...)."""
    answer = send(event("invoice.paid", {"invoice": invoice()}))
    assert answer.status == 200, answer.body
    assert answer.body["result"]["customer_created"] == {
        "customer_id": "c1",
        "enrolled": True,
        "profile_pending": True,
        "registered": True,
        "points_earned": 50,
    }


def test_a_later_customer_created_fills_the_profile_and_gives_no_second_bonus(send, shop) -> None:
    """customer.created after first sight fills the profile; the registration counts once."""
    send(event("invoice.paid", {"invoice": invoice()}))
    later = send(event("customer.created", {"customer": customer(email="ana@example.com")}))
    assert later.status == 200, later.body
    assert later.body["result"] == {
        "customer_id": "c1",
        "created": False,
        "profile_completed": True,
    }
    saved = the_customer(shop)
    assert (saved.first_name, saved.email, saved.profile_pending) == (
        "Ana",
        "ana@example.com",
        False,
    )
    assert ledger_points(shop) == [("earn", 50), ("earn", 12)]
    assert verify_ledger(shop) == []


def test_the_ledger_is_the_same_whichever_arrives_first(send, shop, session, now) -> None:
    """Invoice then customer, or customer then invoice: the same points."""
    send(event("invoice.paid", {"invoice": invoice(customer_id="c1")}))
    send(event("customer.created", {"customer": customer("c1")}))
    send(event("customer.created", {"customer": customer("c2")}))
    send(event("invoice.paid", {"invoice": invoice("INV-2", customer_id="c2")}))
    assert ledger_points(shop) == [("earn", 50), ("earn", 12)] * 2


def test_an_update_for_an_unknown_customer_creates_them_with_its_fields(send, shop) -> None:
    """customer.updated without a first name for an unknown customer: created, not pending."""
    answer = send(event("customer.updated", {"customer": {"id": "c1", "group": "vip"}}))
    assert answer.status == 200, answer.body
    assert answer.body["result"]["created"] is True
    saved = the_customer(shop)
    assert (saved.customer_group, saved.profile_pending, saved.enrolled) == ("vip", False, True)


def test_birthday_and_custom_events_create_the_customer(send, shop) -> None:
    """customer.birthday and event.custom for unknown customers are processed, not kept."""
    birthday = send(event("customer.birthday", {"customer_id": "c7", "date": "2026-01-15"}))
    assert birthday.status == 200, birthday.body
    assert birthday.body["result"]["customer_created"]["customer_id"] == "c7"
    custom = send(event("event.custom", {"customer_id": "c8", "name": "review"}))
    assert custom.status == 200 and custom.body["result"]["customer_created"]["registered"]
    assert {c.host_customer_id for c in shop.scalars(select(Customer))} == {"c7", "c8"}


def test_auto_enrol_off_creates_customers_not_enrolled(send, shop, now) -> None:
    """auto_enrol off: first-sight and unannounced-enrolment customers are not enrolled."""
    configure(shop, now, auto_enrol=False)
    paid = send(event("invoice.paid", {"invoice": invoice()}))
    assert paid.body["result"]["points_earned"] == 0
    assert paid.body["result"]["customer_created"] == {
        "customer_id": "c1",
        "enrolled": False,
        "profile_pending": True,
    }
    send(event("customer.created", {"customer": customer("c2")}))
    assert (the_customer(shop).enrolled, the_customer(shop, "c2").enrolled) == (False, False)
    opted_in = send(event("customer.updated", {"customer": {"id": "c1", "enrolled": True}}))
    assert opted_in.body["result"]["points_earned"] == 50
    assert ledger_points(shop) == [("earn", 50)]


def test_with_first_sight_off_an_event_waits_and_is_reported_when_late(send, shop, pm, now) -> None:
    """Setting off: the event waits; past waiting_report_hours its reason says so."""
    configure(shop, now, create_unknown_customers=False, waiting_report_hours=2)
    early = send(event("invoice.paid", {"invoice": invoice()}), event_id="late-1")
    assert (early.status, early.body["event_status"]) == (202, "waiting")
    assert early.body["reason"] == "customer c1 is not known yet"
    assert shop.scalar(select(func.count()).select_from(Customer)) == 0
    assert retry_due(shop, hooks=pm.hook, settings=SETTINGS, now=now + timedelta(hours=3)) == {
        "waiting": 1
    }
    again = send(event("invoice.paid", {"invoice": invoice()}), event_id="late-1")
    result = again.body["result"]
    assert (again.body["event_status"], result["overdue"]) == ("waiting", True)
    assert again.body["reason"] == result["reason"]
    assert result["reason"] == (
        "customer c1 is not known yet; waiting for 3 hours (reported after 2): "
        "send customer.created for c1, or turn on create_unknown_customers"
    )
    released = send(event("customer.created", {"customer": customer()}))
    assert released.body["result"]["released"] == [early.body["event_id"]]
    assert ledger_points(shop) == [("earn", 50), ("earn", 12)]


def test_events_that_waited_before_the_setting_was_turned_on_run_at_recheck(
    send, shop, pm, now
) -> None:
    """Turning first sight on lets the next recheck create the customer and process."""
    configure(shop, now, create_unknown_customers=False)
    assert send(event("invoice.paid", {"invoice": invoice()})).status == 202
    configure(shop, now, create_unknown_customers=True)
    later = now + timedelta(hours=1)
    assert retry_due(shop, hooks=pm.hook, settings=SETTINGS, now=later) == {"processed": 1}
    assert ledger_points(shop) == [("earn", 50), ("earn", 12)]


# -- concurrency -----------------------------------------------------------------------------

THREADS = 10


@pytest.fixture
def served_many(host) -> Iterator[str]:
    """The app on a threaded HTTP server, with a pool for every thread."""
    host.config["SQLALCHEMY_ENGINE_OPTIONS"] = host.config["SQLALCHEMY_ENGINE_OPTIONS"] | {
        "pool_size": THREADS + 2
    }
    with serving(host) as base:
        yield f"{base}/loyalty/webhooks"


@pytest.mark.concurrency
@pytest.mark.backends("postgresql", "mariadb")
def test_events_for_one_unknown_customer_at_once_create_one_customer(served_many, host) -> None:
    """Ten invoices of one unknown customer at once: one customer, one registration bonus."""
    deliveries = [
        signed(event("invoice.paid", {"invoice": invoice(f"INV-{n}")}), msg_id=f"msg_{n}")
        for n in range(THREADS)
    ]
    answers = post_all(served_many, deliveries)
    assert Counter(code for code, _ in answers) == {200: THREADS}, answers
    created = [b["result"].get("customer_created") for _, b in answers]
    assert sum(1 for c in created if c) == 1
    assert Counter(ledger_points(host)) == {("earn", 50): 1, ("earn", 12): THREADS}
    with host.app_context():
        session = host.extensions["loyalty"].db.session
        assert session.scalar(select(func.count()).select_from(Customer)) == 1
        assert (
            session.scalar(select(func.count()).where(WebhookEvent.status != InboxStatus.PROCESSED))
            == 0
        )
        assert verify_ledger(session) == []


def test_events_list_waiting_marks_the_overdue(host) -> None:
    """``loyalty events list --waiting``: oldest first, hours waited, OVERDUE past the limit."""
    import json
    from datetime import UTC, datetime

    from sqlalchemy import update

    from loyalty_plugin.cli import main
    from loyalty_plugin.host import process_event

    with host.app_context():
        session = host.extensions["loyalty"].db.session
        changes = {"create_unknown_customers": False, "waiting_report_hours": 5}
        update_settings(
            session, merchant_id="default", changes=changes, now=datetime.now(UTC), actor="t"
        )
        session.commit()
    for n, customer_id in ((1, "old"), (2, "new")):
        body = event("invoice.paid", {"invoice": invoice(f"INV-{n}", customer_id=customer_id)})
        assert process_event(body, event_id=f"w-{n}", app=host).status == 202
    with host.app_context():
        session = host.extensions["loyalty"].db.session
        long_ago = datetime.now(UTC) - timedelta(hours=6, minutes=1)
        session.execute(
            update(WebhookEvent)
            .where(WebhookEvent.webhook_id == "w-1")
            .values(received_at=long_ago)
        )
        session.commit()
    runner = host.test_cli_runner()
    shown = runner.invoke(main, ["events", "list", "--waiting"])
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert "customer:old" in lines[0] and lines[0].endswith("6h OVERDUE")
    assert "customer:new" in lines[1] and lines[1].endswith("0h")
    assert lines[2] == "2 waiting, 1 overdue"
    rows = json.loads(runner.invoke(main, ["events", "list", "--waiting", "--json"]).output)
    assert [(r["waiting_for"], r["waited_hours"], r["overdue"]) for r in rows] == [
        ("customer:old", 6, True),
        ("customer:new", 0, False),
    ]


def test_a_known_customers_profile_is_looked_up_once(send, shop) -> None:
    """customer.updated for a known customer reads their row once (the invoice hot path)."""
    send(event("customer.created", {"customer": customer()}))
    statements: list[str] = []
    engine = shop.get_bind()
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    sa_event.listen(engine, "before_cursor_execute", listener)
    try:
        answer = send(event("customer.updated", {"customer": customer(email="a@example.com")}))
    finally:
        sa_event.remove(engine, "before_cursor_execute", listener)
    assert answer.status == 200, answer.body
    lookups = [s for s in statements if "FROM customers" in s and s.lstrip().startswith("SELECT")]
    assert len(lookups) == 1, statements
    assert the_customer(shop).email == "a@example.com"
