"""The Audit page in Chromium: a change made through the API appears, searchable, exportable."""

from __future__ import annotations

import csv
import io
import re
import uuid
from pathlib import Path
from typing import Any

from flask import Flask
from playwright.sync_api import Page, expect

from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import ApiScope, StaffMember
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.merchants.api_keys import create_api_key
from tests.admin.conftest import PASSWORD
from tests.admin.navigation import open_screen
from tests.browser import LiveServer

API = "/loyalty/api/v1"


def sign_in(page: Page, live_server: LiveServer, staff: StaffMember) -> None:
    """Sign in through the form, as a person would."""
    page.goto(live_server.url("/loyalty/admin/sign-in"))
    page.get_by_label("E-mail address").fill(staff.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("staff-name")).to_have_text(staff.name)


def admin_key(app: Flask, merchant: str = "shop") -> str:
    """An admin-scope API key of ``merchant`` (made by set-up code, audited as ``system``)."""
    with app.app_context():
        session = get_session()
        _row, token = create_api_key(
            session, merchant_id=merchant, scope=ApiScope.ADMIN, name="crm", now=utcnow()
        )
        session.commit()
    return token


def call(app: Flask, token: str, method: str, path: str, body: Any = None) -> Any:
    """An API call with ``token``; the answer must be a success."""
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())}
    answer = app.test_client().open(API + path, method=method, json=body, headers=headers)
    assert answer.status_code < 300, answer.json
    return answer.json


def test_an_api_change_appears_and_can_be_searched_and_exported(
    app: Flask,
    live_server: LiveServer,
    page: Page,
    staff_member: Any,
) -> None:
    """The manager opens Audit from the bar; the key's settings change shows as before ->
    after; the search and the actor link narrow to it; the CSV has the same rows."""
    manager = staff_member(role="manager", name="Ana Lima", password=True)
    token = admin_key(app)
    sign_in(page, live_server, manager)
    page.goto(live_server.url("/loyalty/admin/m/shop/"))
    open_screen(page, "Audit")
    expect(page.get_by_role("heading", level=1)).to_have_text("Audit trail")
    expect(page.locator('[data-action="settings.updated"]')).to_have_count(0)

    call(app, token, "PATCH", "/settings", {"max_invoice_share": "25"})
    page.reload()
    row = page.locator('[data-action="settings.updated"]')
    expect(row).to_have_count(1)
    expect(row.get_by_role("row", name="max invoice share")).to_contain_text("100")
    expect(row.locator("ins")).to_have_text("25")
    expect(row.get_by_test_id("audit-actor")).to_have_text(token[:11])

    page.get_by_label("Action").fill("settings")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"[?&]action=settings(&|$)"))
    expect(page.locator(".audit-row")).to_have_count(1)
    row.get_by_test_id("audit-actor").click()
    expect(page).to_have_url(re.compile(rf"[?&]actor=api_key(:|%3A){token[:11]}(&|$)"))
    expect(page.locator(".audit-row")).to_have_count(1)

    with page.expect_download() as download:
        page.get_by_test_id("audit-csv").click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert [(r["action"], r["actor_id"], r["after"]) for r in rows] == [
        ("settings.updated", token[:11], '{"max_invoice_share": "25"}')
    ]
