"""Outgoing webhooks in Chromium: an owner points the endpoint at a real local receiver,
keeps only some event types, and sends a test ping that the receiver gets signed; the page
shows its answer. Pictured at desktop and phone width (``admin-outgoing-ping-*``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect

from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import WebhookEndpoint
from tests.admin.test_cards_pages import sign_in
from tests.admin.test_integration_pages import shop_with_secret
from tests.pages.conftest import LiveServer
from tests.pages.test_screenshots import WIDTHS, at_width, look, shots  # noqa: F401
from tests.webhooks.test_outbox import Receiver, receiver  # noqa: F401


def ping_from_the_page(page: Page, live_server: LiveServer, url: str) -> None:
    page.goto(live_server.url("/loyalty/admin/m/shop/integration/outgoing"))
    form = page.get_by_test_id("endpoint-form")
    form.get_by_label("Endpoint URL").fill(url)
    types = page.get_by_test_id("event-types")
    for name in ("points.expiring", "points.expired"):
        types.get_by_label(name).uncheck()
    form.get_by_role("button", name="Save endpoint").click()
    expect(page.locator(".flash")).to_have_text("The endpoint is saved.")
    expect(types.get_by_label("points.expired")).not_to_be_checked()
    page.get_by_role("button", name="Send a test ping").click()
    expect(page.locator(".flash")).to_have_text(
        re.compile(r"Ping msg_\w+ delivered: HTTP 204 in \d+ ms\.")
    )


def test_an_owner_pings_the_endpoint(
    app: Flask,
    live_server: LiveServer,
    page: Page,
    staff_member,
    receiver: Receiver,  # noqa: F811
) -> None:
    shop_with_secret(app)
    owner = staff_member(role="owner", merchant="shop", password=True, name="Olga Owner")
    sign_in(page, live_server, owner)
    ping_from_the_page(page, live_server, receiver.url)
    assert len(receiver.requests) == 1 and b'"type":"ping"' in receiver.requests[0][1]
    with app.app_context():
        endpoint = get_session().get(WebhookEndpoint, "shop")
        assert "points.expired" not in endpoint.event_types
        assert "points.earned" in endpoint.event_types


@pytest.mark.backends("sqlite")
@pytest.mark.parametrize("width", WIDTHS)
def test_the_outgoing_page_after_a_ping_fits_the_screen(
    width: str,
    app: Flask,
    live_server: LiveServer,
    browser: Browser,
    staff_member,
    receiver: Receiver,  # noqa: F811
    shots: Path,  # noqa: F811
) -> None:
    shop_with_secret(app)
    owner = staff_member(role="owner", merchant="shop", password=True, name="Olga Owner")
    page = at_width(browser, width)()
    sign_in(page, live_server, owner)
    ping_from_the_page(page, live_server, receiver.url)
    look(page, shots, f"admin-outgoing-ping-{width}", "Outgoing webhooks")
