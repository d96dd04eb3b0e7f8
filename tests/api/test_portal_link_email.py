"""``POST /customers/{id}/portal-link/email``: a fresh portal link e-mailed over real SMTP."""

from __future__ import annotations

import re

from flask import Flask
from sqlalchemy import select

from loyalty_plugin.jobs.runner import JobRunner
from loyalty_plugin.models import AuditEntry, Customer, EmailMessage
from loyalty_plugin.models.base import utcnow
from tests.admin.test_emails_views import inbox  # noqa: F401 (a real SMTP server, the app's)

PATH = "/customers/{}/portal-link/email"


def with_email(db, account, address: str | None = "ana@example.com") -> None:
    db.get_one(Customer, account.customer_id).email = address
    db.commit()


def test_the_api_emails_a_link_once_per_idempotency_key(
    app: Flask,
    api,
    db,
    customer,
    inbox,  # noqa: F811
) -> None:
    """202 with the outbox id and address; a replay with the key sends nothing more."""
    with_email(db, customer("42"))
    first = api.post(PATH.format("42"), {}, key="link-1")
    assert first.status_code == 202, first.json
    assert first.json["to"] == "ana@example.com" and first.json["customer_id"] == "42"
    again = api.post(PATH.format("42"), {}, key="link-1")
    assert again.status_code == 202 and again.json == first.json
    assert JobRunner(app).run_now("send-emails", at=utcnow()).status == "succeeded"
    (message,) = inbox.messages
    link = re.search(r"(http\S+/portal/link/\S+)", message.get_body("plain").get_content())[1]
    opened = app.test_client().get(link.split("localhost:8000", 1)[-1])
    assert opened.status_code == 303
    (row,) = db.scalars(select(AuditEntry).where(AuditEntry.action == "portal_link.emailed"))
    assert row.actor_kind == "api_key" and row.after["email_id"] == first.json["email_id"]


def test_refusals_name_the_field(api, db, customer, configure) -> None:
    """No address, the switch off, an unknown customer or a bad body: 4xx naming the field."""
    account = customer("42")
    with_email(db, account, None)
    nowhere = api.post(PATH.format("42"), {})
    assert nowhere.status_code == 409
    assert nowhere.json["error"]["fields"] == {"email": ["the customer has no e-mail address"]}
    with_email(db, account)
    switched_off = api.patch("/email-switches", {"enabled": {"portal_link": False}})
    assert switched_off.status_code == 200, switched_off.json
    off = api.post(PATH.format("42"), {})
    assert off.status_code == 409 and list(off.json["error"]["fields"]) == ["portal_link"]
    assert api.post(PATH.format("nobody"), {}).json["error"]["fields"] == {
        "customer_id": ["customer 'nobody' does not exist"]
    }
    bad = api.post(PATH.format("42"), {"merchant_id": 5})
    assert bad.status_code == 422 and "merchant_id" in bad.json["error"]["fields"]
    extra = api.post(PATH.format("42"), {"to": "attacker@example.com"})
    assert extra.status_code == 422 and "to" in extra.json["error"]["fields"]
    assert api.post(PATH.format("42"), {}, scope="read").status_code == 403
    assert db.scalars(select(EmailMessage)).all() == []


def test_another_merchants_key_cannot_send(api, db, customer) -> None:
    """``other``'s key does not find ``shop``'s customer, nor may name ``shop``."""
    with_email(db, customer("42"))
    assert api.post(PATH.format("42"), {}, scope="other").status_code == 404
    named = api.post(PATH.format("42"), {"merchant_id": "shop"}, scope="other")
    assert named.status_code == 404 and "merchant_id" in named.json["error"]["fields"]
    assert db.scalars(select(EmailMessage)).all() == []


def test_the_route_is_in_the_openapi_document(client) -> None:
    paths = client.get("/loyalty/api/v1/openapi.json").json["paths"]
    operation = paths["/loyalty/api/v1/customers/{customer_id}/portal-link/email"]["post"]
    assert "202" in operation["responses"]
