"""The customer page's "Send portal link by e-mail" through the test client, to aiosmtpd."""

from __future__ import annotations

import re

from flask import Flask
from sqlalchemy import select

from loyalty_plugin.extensions import get_session
from loyalty_plugin.jobs.runner import JobRunner
from loyalty_plugin.models import AuditEntry, EmailMessage
from loyalty_plugin.models.base import utcnow
from tests.admin.test_customer_pages import people  # noqa: F401 (a fixture)
from tests.admin.test_emails_views import inbox  # noqa: F401 (a real SMTP server, the app's)


def sent_emails(app: Flask) -> list[EmailMessage]:
    with app.app_context():
        return list(get_session().scalars(select(EmailMessage)))


def test_a_manager_emails_the_link_once_and_it_arrives(
    app: Flask,
    admin_client,
    people,  # noqa: F811
    inbox,  # noqa: F811
) -> None:
    """The button queues one e-mail per form (a double submit sends one); it opens the portal."""
    ana = people("Ana", "Silva", email="ana@example.com")
    manager = admin_client(role="manager")
    page = manager.get(manager.m(f"/customers/{ana}")).get_data(as_text=True)
    assert "Send portal link by e-mail" in page and "To ana@example.com" in page
    for _ in range(2):
        done = manager.post(manager.m(f"/customers/{ana}/portal-link/email"),
                            data={"form_key": "f1"})  # fmt: skip
        assert done.status_code == 303
    shown = manager.get(done.headers["Location"]).get_data(as_text=True)
    assert "A portal link is on its way to ana@example.com; it works for 30 days." in shown
    assert len(sent_emails(app)) == 1
    assert JobRunner(app).run_now("send-emails", at=utcnow()).status == "succeeded"
    (message,) = inbox.messages
    assert message["To"] == "ana@example.com"
    link = re.search(r"(http\S+/portal/link/\S+)", message.get_body("plain").get_content())[1]
    opened = app.test_client().get(link.split("localhost:8000", 1)[-1])
    assert opened.status_code == 303
    with app.app_context():
        (row,) = get_session().scalars(
            select(AuditEntry).where(AuditEntry.action == "portal_link.emailed")
        )
        assert (row.actor_kind, row.actor_id) == ("staff", str(manager.staff.id))


def test_refused_without_an_address_and_for_staff_or_another_merchant(
    app: Flask,
    admin_client,
    people,  # noqa: F811
) -> None:
    """No address: 422 with the reason at the button; staff: 403; another shop's: 404."""
    bruno = people("Bruno")
    manager = admin_client(role="manager")
    page = manager.get(manager.m(f"/customers/{bruno}")).get_data(as_text=True)
    assert "No e-mail address on file." in page
    refused = manager.post(manager.m(f"/customers/{bruno}/portal-link/email"),
                           data={"form_key": "f2"})  # fmt: skip
    assert refused.status_code == 422
    assert "The customer has no e-mail address." in refused.get_data(as_text=True)
    ana = people("Ana", email="ana@example.com")
    staff = admin_client(role="staff")
    assert staff.post(staff.m(f"/customers/{ana}/portal-link/email"),
                      data={"form_key": "f3"}).status_code == 403  # fmt: skip
    theirs = people("Zoe", email="zoe@example.com", merchant="other")
    elsewhere = manager.post(manager.m(f"/customers/{theirs}/portal-link/email"),
                             data={"form_key": "f4"})  # fmt: skip
    assert elsewhere.status_code == 404
    assert manager.post(manager.m(f"/customers/{ana}/portal-link/email"), data={"form_key": "f5"},
                        csrf="").status_code in (400, 403)  # fmt: skip
    assert sent_emails(app) == []
