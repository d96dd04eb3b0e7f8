"""Store credit reminders and notices (#19), end to end through a real SMTP server: money
in the customer's locale, never points."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from loyalty_plugin.domain.ledger import EntryKind
from loyalty_plugin.domain.notifications import Message, NotificationPrefs
from loyalty_plugin.models import (
    Account,
    ExpiryReminder,
    LedgerEntry,
    OutboxMessage,
    WebhookEndpoint,
)
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.ledger.accounts import open_account
from loyalty_plugin.services.ledger.integrity import verify_ledger
from loyalty_plugin.services.messaging.notifications import set_notification_prefs
from tests.email.conftest import T0

#: 15 January 2026 plus 381 days: lots valid through 31 January 2027 (Lisbon).
DAYS = 381


def earn_both(db, ana) -> Account:
    """Ana's 500 points and €4.20 of credit valid through 31 January 2027, and €8.30 more
    credit that never expires."""
    credit = open_account(db, merchant_id="shop", customer_id=ana.customer_id, unit="EUR")
    expires = T0 + timedelta(days=DAYS)
    ledger.earn(db, account_id=ana.id, points=500, now=T0, actor="t", expires_at=expires)
    ledger.earn(db, account_id=credit.id, points=420, now=T0, actor="t", expires_at=expires)
    ledger.earn(db, account_id=credit.id, points=830, now=T0, actor="t")
    db.commit()
    return credit


def test_credit_gets_its_own_reminder_and_notice_in_money(db, ana, inbox, run) -> None:
    """One points reminder and one credit reminder ("€4.20 of store credit expires on
    January 31, 2027"), each once; after the job, one notice each, and the host's webhooks
    ``credit.expiring`` and ``credit.expired`` in money; verify is clean."""
    db.add(WebhookEndpoint(merchant_id="shop", url="https://host.example/hook"))
    credit = earn_both(db, ana)
    reminder_day = T0 + timedelta(days=DAYS - 20)
    for hour in range(2):
        run("expiry-reminders", reminder_day + timedelta(hours=hour))
        run("send-emails", reminder_day + timedelta(hours=hour))
    assert [m["Subject"] for m in inbox.of("expire")] == [
        "Your 500 points with Café Lumière expire on January 31, 2027",
        "€4.20 of store credit with Café Lumière expires on January 31, 2027",
    ]
    text = inbox.of("store credit")[0].get_body("plain").get_content()
    assert "€4.20 of your store credit with Café Lumière expires on January 31, 2027, in" in text
    assert "Your store credit: €12.50" in text
    assert "420" not in text.split("https://")[0] and "points:" in text  # money, not points
    html = inbox.of("store credit")[0].get_body("html").get_content()
    assert "<strong>€4.20 of your store credit expires on January 31, 2027</strong>" in html
    assert sorted(db.scalars(select(ExpiryReminder.points))) == [420, 500]
    db.rollback()

    after = T0 + timedelta(days=DAYS + 1)
    for minute in range(2):
        run("expire-points", after + timedelta(minutes=minute))
        run("send-emails", after + timedelta(minutes=minute))
    db.expire_all()
    assert (db.get(Account, ana.id).balance, db.get(Account, credit.id).balance) == (0, 830)
    expired = db.execute(
        select(LedgerEntry.unit, LedgerEntry.points).where(LedgerEntry.kind == EntryKind.EXPIRE)
    ).all()
    assert sorted(expired) == [("EUR", -420), ("points", -500)]
    assert sorted(m["Subject"] for m in inbox.of("expired")) == [
        "500 points with Café Lumière have expired",
        "€4.20 of store credit with Café Lumière has expired",
    ]
    credit_notice = inbox.of("store credit with Café Lumière has expired")[0]
    assert "Your store credit now: €8.30" in credit_notice.get_body("plain").get_content()
    sent = {
        m.event_type: m.payload["data"]
        for m in db.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
    }
    assert (sent["credit.expiring"]["currency"], sent["credit.expiring"]["amount"]) == (
        "EUR",
        "4.20",
    )
    expired = sent["credit.expired"]
    assert (expired["amount"], expired["balance"], expired["customer_id"]) == ("4.20", "8.30", "42")
    assert (sent["points.expired"]["points"], sent["points.expiring"]["points"]) == (500, 500)
    assert verify_ledger(db) == []


def test_a_german_customer_reads_euros_the_german_way(db, ana, inbox, run) -> None:
    """In de_DE: "4,20 €" and "31. Januar 2027", in German words."""
    set_notification_prefs(
        db, merchant_id="shop", prefs=NotificationPrefs(locale="de_DE"), now=T0, actor="t"
    )
    earn_both(db, ana)
    at = T0 + timedelta(days=DAYS - 5)
    run("expiry-reminders", at)
    run("send-emails", at)
    (message,) = inbox.of("Guthaben")
    spaced = str.maketrans({"\xa0": " ", "\u202f": " "})  # CLDR's no-break spaces
    assert message["Subject"].translate(spaced) == (
        "4,20 € Guthaben bei Café Lumière verfallen am 31. Januar 2027"
    )
    assert "Ihr Guthaben: 12,50 €" in message.get_body("plain").get_content().translate(spaced)


def test_a_merchant_can_switch_the_credit_reminder_off(db, ana, inbox, run) -> None:
    """``credit_expiring`` off: the points reminder goes, the credit one does not."""
    prefs = NotificationPrefs(disabled=frozenset({Message.CREDIT_EXPIRING}))
    set_notification_prefs(db, merchant_id="shop", prefs=prefs, now=T0, actor="t")
    earn_both(db, ana)
    at = T0 + timedelta(days=DAYS - 5)
    run("expiry-reminders", at)
    run("send-emails", at)
    assert [m["Subject"] for m in inbox.of("expire")] == [
        "Your 500 points with Café Lumière expire on January 31, 2027"
    ]
