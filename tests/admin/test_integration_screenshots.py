"""The Integration screens at desktop and phone width (``make screenshots``): nothing
overflows. With ``LOYALTY_SCREENSHOTS=1`` they replace ``docs/screenshots/admin-integration*``,
``admin-secrets*``, ``admin-api-keys*`` and ``admin-settings*``, which docs/admin.md
shows."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser

from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import InboxStatus
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.merchants.api_keys import create_api_key
from tests.admin.test_cards_pages import sign_in
from tests.admin.test_integration_pages import shop_with_secret
from tests.admin.test_integration_views import add_event, add_message
from tests.pages.conftest import LiveServer
from tests.pages.test_screenshots import WIDTHS, at_width, look, shots  # noqa: F401


def _inbox(app: Flask) -> int:
    """A morning's events: processed ones, one waiting, one failing, one dead."""
    for host_id in ("c101", "c102", "c103", "c104"):
        add_event(app, InboxStatus.PROCESSED, host_id)
    add_event(app, InboxStatus.WAITING, "c105", error=None)
    add_event(app, InboxStatus.PENDING, "c106", error="OperationalError: deadlock detected")
    return add_event(app, InboxStatus.DEAD, "c107")


def _keys(app: Flask) -> None:
    with app.app_context():
        session = get_session()
        used, _ = create_api_key(session, merchant_id="shop", scope="write",
                                 name="Perfex CRM", now=utcnow())  # fmt: skip
        used.last_used_at = utcnow()
        create_api_key(session, merchant_id="shop", scope="read", name="Reporting", now=utcnow())
        session.commit()


@pytest.mark.backends("sqlite")
@pytest.mark.parametrize("width", WIDTHS)
def test_admin_integration_pages_fit_the_screen(
    width: str,
    app: Flask,
    live_server: LiveServer,
    browser: Browser,
    staff_member,
    shots: Path,  # noqa: F811
) -> None:
    shop_with_secret(app)
    dead = _inbox(app)
    _keys(app)
    add_message(app)
    add_message(app, status_code=503)
    owner = staff_member(role="owner", merchant="shop", password=True, name="Olga Owner")
    page = at_width(browser, width)()
    sign_in(page, live_server, owner)
    base = "/loyalty/admin/m/shop/integration"
    page.goto(live_server.url(base))
    look(page, shots, f"admin-integration-{width}", "Host events")
    page.goto(live_server.url(f"{base}/events/{dead}"))
    look(page, shots, f"admin-integration-event-{width}", "customer.created")
    page.goto(live_server.url(f"{base}/secrets"))
    page.get_by_role("button", name="Rotate secret").click()
    look(page, shots, f"admin-secrets-{width}", "Webhook secrets")
    page.goto(live_server.url(f"{base}/api-keys"))
    look(page, shots, f"admin-api-keys-{width}", "API keys")
    page.goto(live_server.url(f"{base}/outgoing"))
    look(page, shots, f"admin-outgoing-{width}", "Outgoing webhooks")
    page.goto(live_server.url("/loyalty/admin/m/shop/settings"))
    page.get_by_label("Approval needed above").fill("0")
    page.get_by_test_id("settings-form").get_by_role("button", name="Save").click()
    look(page, shots, f"admin-settings-{width}", "Merchant settings")
