"""The E-mail templates screen with the test client, and a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import html
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import select

from loyalty_plugin.email.templates import TEMPLATES, default_sources
from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import AuditEntry, Customer, EmailTemplate
from tests.admin.conftest import ensure_merchant
from tests.email.conftest import Inbox, free_port

EXPIRING = default_sources("points_expiring")


@pytest.fixture
def inbox(app: Flask) -> Iterator[Inbox]:
    """A real SMTP server on loopback, configured as the app's."""
    from aiosmtpd.controller import Controller

    box = Inbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    before = {
        k: app.config.get(k) for k in ("LOYALTY_SMTP_HOST", "LOYALTY_SMTP_PORT", "LOYALTY_SMTP_TLS")
    }
    app.config.update(
        LOYALTY_SMTP_HOST="127.0.0.1", LOYALTY_SMTP_PORT=port, LOYALTY_SMTP_TLS="none"
    )
    yield box
    app.config.update(before)
    controller.stop()


def _form(**changes: str) -> dict[str, str]:
    return {
        "subject": EXPIRING.subject,
        "body_text": EXPIRING.body_text,
        "body_html": EXPIRING.body_html,
        "customer_id": "",
    } | changes


def _audit(app: Flask, action: str) -> list[AuditEntry]:
    with app.app_context():
        return list(get_session().scalars(select(AuditEntry).where(AuditEntry.action == action)))


def _error(data: bytes, part: str) -> str:
    after = data.split(f'id="f-{part}-error" role="alert">'.encode())[1]
    return html.unescape(after.split(b"<")[0].decode())


def test_the_list_shows_every_template_its_subject_and_state(app, admin_client) -> None:
    staff = admin_client(role="staff")
    page = staff.get(staff.m("/emails"))
    assert page.status_code == 200
    for name in TEMPLATES:
        assert f'data-template="{name}"'.encode() in page.data
    # A default's subject is shown rendered with made-up data, not as its gettext source.
    assert b"Happy birthday, Ana!" in page.data, default_sources("birthday").subject
    assert b"Default" in page.data and b"Edited" not in page.data


def test_a_mistake_is_refused_with_its_line_and_nothing_is_saved(app, admin_client) -> None:
    manager = admin_client(role="manager")
    text = "Hi {{ customer.first_name }},\n\n{{ points }"
    answer = manager.post(manager.m("/emails/points_expiring"), data=_form(body_text=text))
    assert answer.status_code == 422
    assert _error(answer.data, "body_text") == "Line 3: unexpected '}'."
    assert html.escape(text).encode() in answer.data  # what was typed stays
    with app.app_context():
        assert get_session().scalars(select(EmailTemplate)).first() is None
    assert _audit(app, "email_template.saved") == []


def test_a_manager_saves_previews_and_resets(app, admin_client) -> None:
    manager = admin_client(role="manager")
    url = manager.m("/emails/points_expiring")
    subject = "Only {{ days_left }} days left, {{ customer.first_name }}"
    answer = manager.post(url, data=_form(subject=subject))
    assert answer.status_code == 303
    page = manager.get(url)
    assert b"Template saved" in page.data
    assert b"Only 30 days left, Ana" in page.data  # the saved version previewed
    (saved,) = _audit(app, "email_template.saved")
    assert saved.after["subject"] == subject and saved.before is None
    listing = manager.get(manager.m("/emails"))
    assert b"Edited" in listing.data
    assert manager.post(url + "/reset", data={}).status_code == 303
    assert len(_audit(app, "email_template.reset")) == 1
    assert b"Only 30 days" not in manager.get(url).data


def test_a_draft_previews_with_a_real_customer_without_saving(app, admin_client) -> None:
    staff = admin_client(role="staff")
    with app.app_context():
        session = get_session()
        customer = Customer(
            merchant_id=staff.merchant_id,
            host_customer_id="c-9",
            first_name="Zoé",
            email="zoe@example.com",
        )
        session.add(customer)
        session.commit()
        customer_id = customer.id
    draft = _form(subject="Hello {{ customer.first_name }}", customer_id=str(customer_id))
    answer = staff.post(staff.m("/emails/points_expiring/preview"), data=draft)
    assert answer.status_code == 200
    assert "Hello Zoé".encode() in answer.data
    frame = staff.get(staff.m(f"/emails/points_expiring/preview.html?customer_id={customer_id}"))
    assert frame.status_code == 200 and "Zoé".encode() in frame.data
    assert "sandbox" in frame.headers["Content-Security-Policy"]
    assert "script-src" not in frame.headers["Content-Security-Policy"]
    with app.app_context():
        ensure_merchant("other")
        theirs = Customer(merchant_id="other", host_customer_id="c-1", first_name="Eve")
        get_session().add(theirs)
        get_session().commit()
        their_id = theirs.id
    missing = staff.post(
        staff.m("/emails/points_expiring/preview"), data=_form(customer_id=str(their_id))
    )
    assert missing.status_code == 422 and b'id="f-customer_id-error"' in missing.data
    with app.app_context():
        assert get_session().scalars(select(EmailTemplate)).first() is None


def test_staff_may_read_but_not_save(app, admin_client) -> None:
    staff = admin_client(role="staff")
    assert staff.get(staff.m("/emails/points_expiring")).status_code == 200
    assert staff.post(staff.m("/emails/points_expiring"), data=_form()).status_code == 403
    assert staff.get(staff.m("/emails/nothing")).status_code == 404


def test_a_test_send_reaches_the_smtp_server(app, admin_client, inbox: Inbox) -> None:
    manager = admin_client(role="manager")
    url = manager.m("/emails/points_expiring/test")
    bad = manager.post(url, data={"to": "not an address", "customer_id": ""})
    assert bad.status_code == 422 and _error(bad.data, "to").startswith("Is not an e-mail")
    assert inbox.messages == []
    assert manager.post(url, data={"to": "qa@example.com", "customer_id": ""}).status_code == 303
    (message,) = inbox.messages
    assert message["To"] == "qa@example.com"
    assert message["Subject"].startswith("[Test] ")
    assert "Ana" in message.get_body(("plain",)).get_content()
    (sent,) = _audit(app, "email_template.test_sent")
    assert sent.after["to"] == "qa@example.com"


def test_the_store_credit_emails_are_listed_and_edited_like_the_others(app, admin_client) -> None:
    """``credit_expiring`` and ``credit_expired`` (#19) are in the list, their sample
    subject in money; their editor and its preview render."""
    staff = admin_client(role="staff")
    listing = staff.get(staff.m("/emails")).data.decode()
    assert "€4.20 of store credit with Café Lumière expires on January 31, 2027" in listing
    assert "€4.20 of store credit with Café Lumière has expired" in listing
    for name in ("credit_expiring", "credit_expired"):
        page = staff.get(staff.m(f"/emails/{name}"))
        assert page.status_code == 200, name
        assert b"credit.amount" in page.data, name
        preview = staff.get(staff.m(f"/emails/{name}/preview.html"))
        assert preview.status_code == 200 and "€12.50".encode() in preview.data, name
