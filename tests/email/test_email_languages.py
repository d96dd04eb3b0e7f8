"""Default e-mails in the customer's language, received over real SMTP (aiosmtpd):
the customer's locale when the host sent one we ship, else the merchant's."""

from __future__ import annotations

from sqlalchemy.orm import Session

from loyalty_plugin.domain.notifications import NotificationPrefs
from loyalty_plugin.models import Account, Customer
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.messaging.notifications import set_notification_prefs
from tests.email.conftest import T0


def _earn(db: Session, account: Account, points: int) -> None:
    ledger.earn(db, account_id=account.id, points=points, now=T0, actor="t")
    db.commit()


def _merchant_locale(db: Session, locale: str) -> None:
    prefs = NotificationPrefs(locale=locale)
    set_notification_prefs(db, merchant_id="shop", prefs=prefs, now=T0, actor="t")
    db.commit()


def test_a_german_merchants_receipt_arrives_in_german(db, ana, inbox, run) -> None:
    """Subject, text and HTML parts in German, with German plurals and numbers."""
    _merchant_locale(db, "de_DE")
    _earn(db, ana, 1)
    _earn(db, ana, 1234)
    run("send-emails", T0)
    first, second = inbox.messages
    assert first["Subject"] == "Sie haben bei Café Lumière 1 Punkt gesammelt"
    assert second["Subject"] == "Sie haben bei Café Lumière 1.234 Punkte gesammelt"
    text = second.get_body("plain").get_content()
    html = second.get_body("html").get_content()
    assert text.startswith("Hallo Ana,\r\n")
    assert "Vielen Dank für Ihren Einkauf! Sie haben bei Café Lumière 1.234 Punkte" in text
    assert "Ihr Punktestand: 1.235 Punkte" in text
    assert "Sie erhalten diese E-Mail, weil Sie am Prämienprogramm von Café Lumière" in text
    assert '<html lang="de">' in html
    assert "Sie haben <strong>1.234 Punkte</strong> gesammelt." in html
    assert ">Meine Punkte ansehen</a>" in html
    first_text = first.get_body("plain").get_content()
    assert "Sie haben bei Café Lumière 1 Punkt gesammelt." in first_text


def test_the_customers_own_locale_wins(db, ana, inbox, run) -> None:
    """A customer the host said reads Swahili gets Swahili from a German merchant; one in
    a language we do not ship gets the merchant's."""
    _merchant_locale(db, "de_DE")
    db.get(Customer, ana.customer_id).locale = "sw_KE"
    db.commit()
    _earn(db, ana, 20)
    run("send-emails", T0)
    (message,) = inbox.messages
    assert message["Subject"] == "Umepata pointi 20 katika Café Lumière"
    assert message.get_body("plain").get_content().startswith("Habari Ana,\r\n")
    db.get(Customer, ana.customer_id).locale = "fr_FR"
    db.commit()
    _earn(db, ana, 5)
    run("send-emails", T0)
    assert inbox.messages[-1]["Subject"] == "Sie haben bei Café Lumière 5 Punkte gesammelt"


def test_an_english_receipt_says_one_point(db, ana, inbox, run) -> None:
    """Plurals through ngettext in English too: "1 point", "2 points"."""
    _earn(db, ana, 1)
    _earn(db, ana, 1)
    run("send-emails", T0)
    subjects = [m["Subject"] for m in inbox.messages]
    assert subjects == ["You earned 1 point at Café Lumière"] * 2
    assert "Your balance: 2 points" in inbox.messages[-1].get_body("plain").get_content()
