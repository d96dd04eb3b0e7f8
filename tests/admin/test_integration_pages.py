"""The Integration screens in Chromium: an owner rotates the webhook secret (the old one is
accepted during the overlap and refused after it), creates and revokes an API key, and
retries a failed host event."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from datetime import timedelta

from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select

from loyalty_plugin.domain.signatures import signature_headers
from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import Customer, InboxStatus, WebhookSecret
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.merchants.secrets import create_secret
from tests.admin.conftest import ensure_merchant
from tests.admin.navigation import open_screen
from tests.admin.test_cards_pages import sign_in
from tests.admin.test_integration_views import add_event
from tests.pages.conftest import LiveServer

OLD = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def shop_with_secret(app: Flask) -> None:
    """The ``shop`` merchant with the secret its shop system signs with today."""
    with app.app_context():
        ensure_merchant("shop")
        create_secret(get_session(), merchant_id="shop", now=utcnow() - timedelta(days=30),
                      secret=OLD, label="perfex production")  # fmt: skip
        get_session().commit()


def post_event(live_server: LiveServer, secret: str, host_id: str) -> int:
    """Send a signed ``customer.created`` over HTTP, as the shop system does; the status."""
    body = json.dumps({
        "type": "customer.created", "merchant_id": "shop", "occurred_at": "2026-01-15T12:00:00Z",
        "data": {"customer": {"id": host_id, "first_name": "Rita"}},
    }).encode()  # fmt: skip
    headers = signature_headers(
        [secret], msg_id=f"msg_{host_id}", timestamp=int(time.time()), body=body
    )
    request = urllib.request.Request(
        live_server.url("/loyalty/webhooks"),
        data=body,
        headers=headers | {"content-type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status
    except urllib.error.HTTPError as refused:
        return refused.code


def api_status(live_server: LiveServer, token: str) -> int:
    request = urllib.request.Request(
        live_server.url("/loyalty/api/v1/customers?merchant_id=shop"),
        headers={"Authorization": f"Bearer {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status
    except urllib.error.HTTPError as refused:
        return refused.code


def open_integration(page: Page, live_server: LiveServer, staff_member, app: Flask) -> None:
    owner = staff_member(role="owner", merchant="shop", password=True, name="Olga Owner")
    sign_in(page, live_server, owner)
    page.goto(live_server.url("/loyalty/admin/m/shop/"))
    page.on("dialog", lambda dialog: dialog.accept())
    open_screen(page, "Integration")
    expect(page.get_by_role("heading", level=1)).to_have_text("Host events")


def end_overlap_now(app: Flask) -> None:
    """Time passes: the overlap of the rotated secret ends (its end moves a minute back)."""
    with app.app_context():
        session = get_session()
        old = session.scalars(select(WebhookSecret).where(WebhookSecret.secret == OLD)).one()
        old.revoked_at = utcnow() - timedelta(minutes=1)
        session.commit()


def test_an_owner_rotates_the_secret_with_an_overlap(
    app: Flask, live_server: LiveServer, page: Page, staff_member
) -> None:
    shop_with_secret(app)
    open_integration(page, live_server, staff_member, app)
    page.get_by_role("link", name="Webhook secrets").click()
    until = (utcnow() + timedelta(days=7)).date().isoformat()
    page.get_by_label("Old secrets accepted until").fill(until)
    page.get_by_role("button", name="Rotate secret").click()
    shown = page.get_by_test_id("shown-secret")
    expect(shown).to_contain_text("Rotated: copy the secret now")
    new = page.get_by_label("The new secret").input_value()
    assert new.startswith("whsec_") and new != OLD
    row = page.locator("tr", has_text="perfex production")
    expect(row).to_contain_text("Accepted until")

    assert post_event(live_server, OLD, "during") == 200  # the overlap: the old one still works
    assert post_event(live_server, new, "new") == 200
    end_overlap_now(app)
    assert post_event(live_server, OLD, "after") == 401  # after it: refused
    assert post_event(live_server, new, "new-after") == 200

    page.goto(live_server.url("/loyalty/admin/m/shop/integration/secrets"))
    expect(page.get_by_test_id("shown-secret")).to_have_count(0)  # shown once
    assert new not in page.content()
    expect(page.locator("tr", has_text="perfex production")).to_contain_text("Revoked")
    page.get_by_role("link", name="Host events").click()
    expect(page.get_by_test_id("inbox-table")).to_contain_text("msg_during")
    expect(page.get_by_test_id("inbox-table")).not_to_contain_text("msg_after")


def test_an_owner_creates_and_revokes_an_api_key(
    app: Flask, live_server: LiveServer, page: Page, staff_member
) -> None:
    shop_with_secret(app)
    open_integration(page, live_server, staff_member, app)
    page.get_by_role("link", name="API keys").click()
    page.get_by_label("Name").fill("Checkout app")
    page.get_by_label("Scope").select_option("read")
    page.get_by_role("button", name="Create key").click()
    token = page.get_by_label("The new API key").input_value()
    assert token.startswith("lk_")
    assert api_status(live_server, token) == 200
    page.goto(live_server.url("/loyalty/admin/m/shop/integration/api-keys"))
    row = page.locator("tr", has_text="Checkout app")
    expect(row).to_contain_text("Active")
    assert token not in page.content()
    row.get_by_role("button", name="Revoke").click()
    expect(page.locator(".flash")).to_contain_text("is revoked")
    expect(page.locator("tr", has_text="Checkout app")).to_contain_text("Revoked")
    assert api_status(live_server, token) == 401


def test_an_owner_retries_a_failed_host_event(
    app: Flask, live_server: LiveServer, page: Page, staff_member
) -> None:
    shop_with_secret(app)
    add_event(app, InboxStatus.PROCESSED, "c1")
    dead = add_event(app, InboxStatus.DEAD, "c2")
    open_integration(page, live_server, staff_member, app)
    page.get_by_label("Status").select_option("dead")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(live_server.url("/loyalty/admin/m/shop/integration?status=dead&type="))
    table = page.get_by_test_id("inbox-table")
    expect(table.locator("tbody tr")).to_have_count(1)
    table.get_by_role("link", name="customer.created").click()
    expect(page.get_by_test_id("event-status")).to_have_text("Dead")
    expect(page.get_by_test_id("event-error")).to_contain_text("the database went away")
    expect(page.get_by_test_id("event-body")).to_contain_text('"id": "c2"')
    page.get_by_role("button", name="Retry now").click()
    expect(page.locator(".flash")).to_contain_text(f"Event {dead} was retried: it is now processed")
    expect(page.get_by_test_id("event-status")).to_have_text("Processed")
    with app.app_context():
        assert get_session().scalars(select(Customer.host_customer_id)).all() == ["c2"]
