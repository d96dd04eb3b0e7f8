"""A new portal link by e-mail (issues 14 and 17), through aiosmtpd, on every backend.

Staff (or the API) e-mail a customer their portal link; the expired-link page's form sends
one only to the address on file, at most three an hour, and answers the same either way.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.errors import InvalidOperation
from loyalty_plugin.domain.notifications import Message, NotificationPrefs
from loyalty_plugin.models import Account, AuditEntry, Customer, EmailMessage, Merchant
from loyalty_plugin.services.audit import Actor
from loyalty_plugin.services.customers import portal
from loyalty_plugin.services.messaging import portal_links
from loyalty_plugin.services.messaging.notifications import set_notification_prefs
from tests.email.conftest import T0

STAFF = Actor.staff(7, "Mia Manager")


def customer_of(db: Session, account: Account) -> Customer:
    return db.get_one(Customer, account.customer_id)


def send(db: Session, customer: Customer, key: str = "k1", at=T0) -> portal_links.QueuedLink:
    queued = portal_links.email_portal_link(
        db, customer=customer, key=key, valid_days=30, actor=STAFF, now=at
    )
    db.commit()
    return queued


def ask(db: Session, customer_id: int, typed: str, *, client: str = "10.0.0.1", at=T0,
        merchant_id: str = "shop") -> bool:  # fmt: skip
    sent = portal_links.request_portal_link(
        db, merchant_id=merchant_id, customer_id=customer_id, typed_email=typed, client=client,
        valid_days=30, now=at,
    )  # fmt: skip
    db.commit()
    return sent


def portal_link_in(message) -> str:
    html = message.get_body("html").get_content()
    link = re.search(r'href="([^"]*/portal/link/[^"]+)"', html).group(1)
    assert link in message.get_body("plain").get_content()
    return link


def test_staff_send_a_link_that_opens_the_customers_portal(mail_app, db, ana, inbox, run) -> None:
    """The e-mail arrives at the address on file; its link opens Ana's portal, fresh."""
    queued = send(db, customer_of(db, ana))
    assert (queued.to, queued.customer_id, queued.repeated) == ("ana@example.com", "42", False)
    run("send-emails", T0)
    (message,) = inbox.messages
    assert message["To"] == "ana@example.com"
    assert message["Subject"] == "Your link to your Café Lumière points"
    assert "List-Unsubscribe" not in message
    assert "works for 30 days" in message.get_body("plain").get_content()
    link = portal_link_in(message)
    assert link.startswith("https://loyalty.shop.example/loyalty/portal/link/")
    client = mail_app.test_client()
    opened = client.get(link.removeprefix("https://loyalty.shop.example"))
    assert opened.status_code == 303
    page = client.get(opened.headers["Location"])
    assert page.status_code == 200
    assert "Hello, Ana" in page.get_data(as_text=True)


def test_the_same_key_sends_once_and_the_trail_names_who_sent(db, ana, inbox, run) -> None:
    """A double submit queues one e-mail and one ``portal_link.emailed`` row."""
    first = send(db, customer_of(db, ana), key="form-1")
    again = send(db, customer_of(db, ana), key="form-1")
    assert again.repeated and again.email_id == first.email_id
    run("send-emails", T0)
    assert len(inbox.messages) == 1
    (row,) = db.scalars(select(AuditEntry).where(AuditEntry.action == "portal_link.emailed"))
    assert (row.target_type, row.target_id) == ("customer", "42")
    assert row.after == {"to": "ana@example.com", "email_id": first.email_id, "valid_days": 30}
    assert row.actor_kind == STAFF.kind


def test_it_goes_without_consent_but_not_when_switched_off_or_without_address(
    db, ana, inbox, run
) -> None:
    """Asked for, it ignores consents; the merchant's switch and a missing address refuse it."""
    customer = customer_of(db, ana)
    customer.email_opt_in = False
    set_notification_prefs(db, merchant_id="shop", now=T0, actor="t",
                           prefs=NotificationPrefs(service_needs_consent=True))  # fmt: skip
    db.commit()
    send(db, customer)
    off_prefs = NotificationPrefs(disabled=frozenset({Message.PORTAL_LINK}))
    set_notification_prefs(db, merchant_id="shop", now=T0, actor="t", prefs=off_prefs)
    db.commit()
    with pytest.raises(InvalidOperation) as off:
        send(db, customer, key="k2")
    assert off.value.field == "portal_link"
    db.rollback()
    set_notification_prefs(db, merchant_id="shop", now=T0, actor="t", prefs=NotificationPrefs())
    customer = customer_of(db, ana)
    customer.email = None
    db.commit()
    with pytest.raises(InvalidOperation) as nowhere:
        send(db, customer, key="k3")
    assert (nowhere.value.field, nowhere.value.message) == (
        "email", "the customer has no e-mail address",
    )  # fmt: skip
    db.rollback()
    run("send-emails", T0)
    assert len(inbox.messages) == 1
    assert db.scalar(select(func.count()).select_from(EmailMessage)) == 1


def test_the_expired_page_sends_only_to_the_address_on_file(mail_app, db, ana, inbox, run) -> None:
    """Typed as on file (any case, spaces): a link; another address: nothing, same answer."""
    assert ask(db, ana.customer_id, "  ANA@Example.com ") is True
    assert ask(db, ana.customer_id, "someone@example.com") is False
    run("send-emails", T0)
    (message,) = inbox.messages
    assert message["To"] == "ana@example.com"
    token = portal_link_in(message).rsplit("/", 1)[1]
    access = portal.read_token("test-secret-key", token, now=T0 + timedelta(days=29))
    assert (access.merchant_id, access.customer_id) == ("shop", ana.customer_id)
    (row,) = db.scalars(select(AuditEntry).where(AuditEntry.action == "portal_link.emailed"))
    assert (row.actor_kind, row.actor_id) == ("customer", "42")


def test_at_most_three_links_an_hour_per_customer(db, ana, inbox, run) -> None:
    """The fourth request within the hour sends nothing; an hour later it sends again."""
    answers = [ask(db, ana.customer_id, "ana@example.com", client=f"10.0.0.{n}",
                   at=T0 + timedelta(minutes=n)) for n in range(4)]  # fmt: skip
    assert answers == [True, True, True, False]
    assert ask(db, ana.customer_id, "ana@example.com", client="10.0.1.1",
               at=T0 + timedelta(minutes=61)) is True  # fmt: skip
    run("send-emails", T0 + timedelta(minutes=61))
    assert len(inbox.messages) == 4


def test_addresses_and_clients_that_ask_too_often_are_told_to_wait(db, ana) -> None:
    """Per typed address (known or not) and per client: a wait in minutes, no row written."""
    for n in range(portal_links.PER_ADDRESS):
        ask(db, ana.customer_id, "nobody@example.com", client=f"10.0.0.{n}",
            at=T0 + timedelta(minutes=n))  # fmt: skip
    with pytest.raises(portal_links.RequestsThrottled) as address:
        ask(db, ana.customer_id, "Nobody@example.com", client="10.9.9.9",
            at=T0 + timedelta(minutes=10))  # fmt: skip
    assert address.value.minutes == 50
    db.rollback()
    for n in range(portal_links.PER_CLIENT):
        ask(db, ana.customer_id, f"guess{n}@example.com", client="10.1.1.1",
            at=T0 + timedelta(minutes=20))  # fmt: skip
    with pytest.raises(portal_links.RequestsThrottled):
        ask(db, ana.customer_id, "ana@example.com", client="10.1.1.1",
            at=T0 + timedelta(minutes=21))  # fmt: skip
    db.rollback()
    assert ask(db, ana.customer_id, "ana@example.com", client="10.0.0.2",
               at=T0 + timedelta(minutes=21)) is True  # fmt: skip


def test_another_merchants_customer_gets_nothing(db, ana, inbox, run) -> None:
    """An expired link of one shop cannot send to a customer of another, nor name one."""
    db.add(Merchant(id="other", name="Other", currency="EUR", timezone="UTC"))
    db.flush()
    bea = Customer(merchant_id="other", host_customer_id="42", first_name="Bea",
                   email="bea@example.com", created_at=T0)  # fmt: skip
    db.add(bea)
    db.commit()
    assert ask(db, ana.customer_id, "bea@example.com") is False
    assert ask(db, bea.id, "bea@example.com", merchant_id="shop") is False
    assert ask(db, ana.customer_id, "ana@example.com", merchant_id="other") is False
    run("send-emails", T0)
    assert inbox.messages == []
