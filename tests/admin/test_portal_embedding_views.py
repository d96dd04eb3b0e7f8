"""Merchant settings, "Portal in your own pages": owners list the origins that may frame
the portal; a bad one is answered at the field as ``PATCH /settings`` answers it."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import AuditEntry, MerchantSettings

FIELD = "portal_frame_ancestors"


def _origins(app: Flask) -> list[str] | None:
    with app.app_context():
        row = get_session().get(MerchantSettings, "shop")
        return None if row is None else row.portal_frame_ancestors


def test_an_owner_lists_the_host_origins_and_it_is_audited(app: Flask, admin_client) -> None:
    owner = admin_client()
    page = owner.get(owner.m("/settings")).get_data(as_text=True)
    assert "Sites that may show the portal in a frame" in page
    saved = owner.post(
        owner.m("/settings/portal-embedding"),
        {FIELD: "https://CRM.shop.example/\r\n\r\nhttp://localhost:8080\r\n"},
    )
    assert saved.status_code == 303
    shown = owner.get(saved.headers["Location"]).get_data(as_text=True)
    assert "Portal embedding saved." in shown
    assert ">https://crm.shop.example\nhttp://localhost:8080</textarea>" in shown
    assert _origins(app) == ["https://crm.shop.example", "http://localhost:8080"]
    assert owner.post(owner.m("/settings/portal-embedding"), {FIELD: ""}).status_code == 303
    assert _origins(app) == []
    with app.app_context():
        audited = get_session().scalars(select(AuditEntry.after).order_by(AuditEntry.id)).all()
    assert next(a for a in audited if FIELD in (a or {}))[FIELD] == [
        "https://crm.shop.example",
        "http://localhost:8080",
    ]


def test_a_bad_origin_is_answered_at_the_field_and_nothing_changes(
    app: Flask, admin_client
) -> None:
    owner = admin_client()
    owner.post(owner.m("/settings/portal-embedding"), {FIELD: "https://crm.shop.example"})
    typed = "https://crm.shop.example\nhttp://crm.shop.example"
    page = owner.post(owner.m("/settings/portal-embedding"), {FIELD: typed})
    assert page.status_code == 422
    text = page.get_data(as_text=True)
    assert 'id="f-portal_frame_ancestors-error" role="alert">' in text
    assert "must use https" in text and f">{typed}</textarea>" in text
    assert _origins(app) == ["https://crm.shop.example"]


def test_only_owners_may_change_it(admin_client) -> None:
    manager = admin_client(role="manager")
    posted = manager.post(manager.m("/settings/portal-embedding"), {FIELD: "https://a.example"})
    assert posted.status_code == 403
