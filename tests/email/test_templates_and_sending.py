"""Merchant templates, retries without duplicates, consent, unsubscribing and the SMS hook."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from loyalty_plugin import hookimpl
from loyalty_plugin.domain.coupons import CouponKind, CouponStatus
from loyalty_plugin.domain.notifications import Message, NotificationPrefs
from loyalty_plugin.email.render import TemplateRejected
from loyalty_plugin.models import Coupon, Customer, EmailAttempt, EmailMessage, EmailStatus
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.messaging import email_templates
from loyalty_plugin.services.messaging.notifications import set_notification_prefs
from tests.email.conftest import T0

EDIT = {
    "subject": "{{ points|number }} new points, {{ customer.first_name }}!",
    "body_text": "Text: {{ points }} points; balance {{ balance|number }}.",
    "body_html": "<p>HTML: <b>{{ points }}</b> points for {{ customer.name }}</p>",
}


def earn(db, account, points: int, at=T0) -> None:
    ledger.earn(db, account_id=account.id, points=points, now=at, actor="t")
    db.commit()


def save(db, name: str = "points_earned", **parts: str) -> None:
    email_templates.save_template(
        db, merchant_id="shop", name=name, **(EDIT | parts), now=T0, actor="staff:ana"
    )
    db.commit()


def test_a_saved_edit_is_used_for_the_next_email_in_both_parts(db, ana, inbox, run) -> None:
    """After a valid edit the next receipt uses it, text and HTML parts alike."""
    earn(db, ana, 10)
    run("send-emails", T0)
    save(db)
    earn(db, ana, 1234)
    run("send-emails", T0)
    before, after = inbox.messages
    assert before["Subject"] == "You earned 10 points at Café Lumière"
    assert after["Subject"] == "1,234 new points, Ana!"
    assert after.get_body("plain").get_content().strip() == "Text: 1234 points; balance 1,244."
    html = after.get_body("html").get_content().strip()
    assert html == "<p>HTML: <b>1234</b> points for Ana Silva</p>"
    assert after["From"] == "Café Lumière <rewards@shop.example>"


def test_unsafe_or_unknown_edits_are_refused_and_change_nothing(db, ana, inbox, run) -> None:
    """``{{ customer.__class__ }}`` or an unknown name is refused with the line; the old stays."""
    with pytest.raises(TemplateRejected) as unsafe:
        save(db, body_text="Hi\n{{ customer.__class__ }}")
    assert str(unsafe.value) == "body text, line 2: access to '__class__' is not allowed"
    with pytest.raises(TemplateRejected) as unknown:
        save(db, subject="{{ password }}")
    assert unknown.value.problems[0].line == 1
    assert "unknown variable 'password'" in unknown.value.problems[0].reason
    db.rollback()
    earn(db, ana, 5)
    run("send-emails", T0)
    assert [m["Subject"] for m in inbox.messages] == ["You earned 5 points at Café Lumière"]


def test_preview_and_reset(db, ana) -> None:
    """A preview renders a draft with sample data; a reset returns to the default."""
    draft = email_templates.preview_template(
        db, merchant_id="shop", name="points_expiring", subject="{{ days_left }} days left"
    )
    assert draft.subject == "30 days left"
    assert "Café Lumière" in draft.html
    save(db)
    assert email_templates.template_sources(db, merchant_id="shop", name="points_earned")[1]
    assert email_templates.reset_template(db, merchant_id="shop", name="points_earned")
    db.commit()
    sources, edited = email_templates.template_sources(db, merchant_id="shop", name="points_earned")
    assert not edited and "You earned %(count)s points" in sources.subject


def test_a_refused_delivery_is_retried_later_and_sent_once(db, ana, inbox, run) -> None:
    """A 451 keeps the message queued with a delay; the retry sends it, once, same id."""
    inbox.refusals.append("451 4.3.0 try again later")
    earn(db, ana, 7)
    run("send-emails", T0)
    run("send-emails", T0 + timedelta(seconds=30))
    assert inbox.messages == []
    run("send-emails", T0 + timedelta(minutes=2))
    run("send-emails", T0 + timedelta(minutes=10))
    (sent,) = inbox.messages
    row = db.scalars(select(EmailMessage)).one()
    attempts = db.scalars(select(EmailAttempt).order_by(EmailAttempt.id)).all()
    assert (row.status, row.attempts, sent["Message-ID"]) == (EmailStatus.SENT, 2, row.message_id)
    assert [(a.channel, a.succeeded) for a in attempts] == [("smtp", False), ("smtp", True)]
    assert "451" in attempts[0].error


def test_a_permanent_refusal_is_not_retried(db, ana, inbox, run) -> None:
    """A 550 fails the message at once; later runs leave it alone."""
    inbox.refusals.append("550 5.1.1 no such mailbox")
    earn(db, ana, 7)
    run("send-emails", T0)
    run("send-emails", T0 + timedelta(days=1))
    row = db.scalars(select(EmailMessage)).one()
    assert (row.status, row.attempts, inbox.messages) == (EmailStatus.FAILED, 1, [])


def test_marketing_needs_consent_and_carries_a_working_unsubscribe_link(
    db, ana, inbox, run, mail_app
) -> None:
    """Birthday e-mails go to opted-in customers once a year, with a one-click unsubscribe."""
    customer = db.get(Customer, ana.customer_id)
    customer.date_of_birth = date(1990, 3, 9)
    other = Customer(
        merchant_id="shop", host_customer_id="7", first_name="Bo", email="bo@example.com"
    )
    other.date_of_birth = date(1985, 3, 9)
    db.add(other)
    db.commit()
    birthday = T0.replace(month=3, day=9, hour=8)
    run("birthday-greetings", birthday)
    run("birthday-greetings", birthday + timedelta(hours=1))
    run("send-emails", birthday)
    (greeting,) = inbox.of("Happy birthday")
    assert (greeting["To"], greeting["Subject"]) == ("ana@example.com", "Happy birthday, Ana!")
    link = greeting["List-Unsubscribe"].strip("<>")
    assert link.startswith("https://loyalty.shop.example/loyalty/email/unsubscribe/")
    assert link in greeting.get_body("plain").get_content()
    assert greeting["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    client = mail_app.test_client()
    path = link.removeprefix("https://loyalty.shop.example")
    assert b"Stop marketing e-mails?" in client.get(path).data
    assert client.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert client.get(path[:-3] + "xyz").status_code == 404
    db.expire_all()
    assert db.get(Customer, ana.customer_id).email_opt_in is False
    db.rollback()
    run("birthday-greetings", birthday.replace(year=2027))
    run("send-emails", birthday.replace(year=2027))
    assert len(inbox.of("Happy birthday")) == 1


def test_service_emails_follow_the_merchant_consent_setting(db, ana, inbox, run) -> None:
    """With consent required for service e-mails, a customer without it gets no receipt."""
    customer = db.get(Customer, ana.customer_id)
    customer.email_opt_in = False
    set_notification_prefs(
        db,
        merchant_id="shop",
        prefs=NotificationPrefs(service_needs_consent=True),
        now=T0,
        actor="t",
    )
    db.commit()
    earn(db, ana, 9)
    set_notification_prefs(db, merchant_id="shop", prefs=NotificationPrefs(), now=T0, actor="t")
    db.commit()
    earn(db, ana, 11)
    run("send-emails", T0)
    assert [m["Subject"] for m in inbox.messages] == ["You earned 11 points at Café Lumière"]


def test_switched_off_messages_are_not_queued(db, ana, inbox, run) -> None:
    """A merchant can turn the receipt off."""
    off = NotificationPrefs(disabled=frozenset({Message.POINTS_EARNED}))
    set_notification_prefs(db, merchant_id="shop", prefs=off, now=T0, actor="t")
    db.commit()
    earn(db, ana, 9)
    run("send-emails", T0)
    assert inbox.messages == []


class SmsPlugin:
    def __init__(self) -> None:
        self.sent: list = []

    @hookimpl
    def send_sms(self, message) -> None:
        self.sent.append(message)


def test_hook_send_sms(db, ana, inbox, run, mail_app) -> None:
    """Customers with SMS consent get the rendered text through the hook, once."""
    plugin = SmsPlugin()
    mail_app.extensions["loyalty"].plugin_manager.register(plugin)
    customer = db.get(Customer, ana.customer_id)
    customer.phone, customer.sms_opt_in = "+351910000000", True
    db.commit()
    earn(db, ana, 30)
    run("send-emails", T0)
    run("send-emails", T0 + timedelta(hours=1))
    (sms,) = plugin.sent
    (mail,) = inbox.messages
    assert (sms.to, sms.subject) == ("+351910000000", mail["Subject"])
    assert sms.text == mail.get_body("plain").get_content().replace("\r\n", "\n")


def test_coupon_reminder_goes_once_before_the_coupon_expires(db, ana, inbox, run) -> None:
    """An unused coupon gets one reminder 7 days before its end, with code and value."""
    coupon = Coupon(
        merchant_id="shop",
        code="K7QX-M2PD-9HTA",
        status=CouponStatus.ACTIVE,
        account_id=ana.id,
        kind=CouponKind.AMOUNT,
        amount=Decimal("5.00"),
        currency="EUR",
        expires_at=T0 + timedelta(days=20),
        created_by="t",
    )
    db.add(coupon)
    db.commit()
    for day in (10, 14, 15):
        run("expiry-reminders", T0 + timedelta(days=day))
    run("send-emails", T0 + timedelta(days=15))
    (mail,) = inbox.messages
    assert mail["Subject"] == "Your coupon K7QX-M2PD-9HTA expires on February 4, 2026"
    assert "for €5.00 off at Café Lumière" in mail.get_body("plain").get_content()


def test_welcome_and_level_change_come_from_domain_events(db, ana, inbox, run) -> None:
    """Publishing CustomerRegistered and LevelChanged queues their e-mails, once each."""
    from loyalty_plugin.domain.events import CustomerRegistered, LevelChanged
    from loyalty_plugin.services.events import publish

    for _ in range(2):
        publish(db, CustomerRegistered(merchant_id="shop", occurred_at=T0, customer_id="42"))
        publish(
            db,
            LevelChanged(
                merchant_id="shop",
                occurred_at=T0,
                customer_id="42",
                from_level="Silver",
                to_level="Gold",
                reason="spent 1,000",
            ),
        )
        db.commit()
    run("send-emails", T0)
    assert sorted(m["Subject"] for m in inbox.messages) == [
        "Welcome to the Café Lumière rewards programme",
        "You are now Gold at Café Lumière",
    ]
    level = next(m for m in inbox.messages if "Gold" in m["Subject"])
    assert "changed from Silver to Gold." in level.get_body("plain").get_content()


class Outbox:
    """A plugin's e-mail sender: keeps what it is given."""

    def __init__(self) -> None:
        self.sent: list = []
        self.closed = 0

    def send(self, message) -> None:
        self.sent.append(message)

    def close(self) -> None:
        self.closed += 1


def test_hook_email_sender(db, ana, inbox, run, mail_app) -> None:
    """A plugin's sender replaces SMTP: it gets the built message, the SMTP server nothing."""
    outbox = Outbox()

    class MailApi:
        @hookimpl
        def email_sender(self, config):
            return outbox

    mail_app.extensions["loyalty"].plugin_manager.register(MailApi())
    earn(db, ana, 12)
    run("send-emails", T0)
    (message,) = outbox.sent
    assert (message["Subject"], message["To"]) == (
        "You earned 12 points at Café Lumière",
        "ana@example.com",
    )
    assert outbox.closed == 1 and inbox.messages == []


def test_hook_extra_email_context(db, ana, inbox, run, mail_app) -> None:
    """Plugins can fill documented variables, e.g. the level before levels exist."""

    class Levels:
        @hookimpl
        def extra_email_context(self, template, merchant_id, context):
            return {"level": "Gold"} if template == "points_earned" else None

    mail_app.extensions["loyalty"].plugin_manager.register(Levels())
    earn(db, ana, 12)
    run("send-emails", T0)
    (mail,) = inbox.messages
    assert "Level: <strong>Gold</strong>" in mail.get_body("html").get_content()
