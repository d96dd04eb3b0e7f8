"""The expired-link page's "e-mail me a new link" at desktop and phone width.

As ``tests/pages/test_screenshots.py`` does for the other portal pages: with
``LOYALTY_SCREENSHOTS=1`` the pictures go to ``docs/screenshots/portal-new-link-*.png``,
which [the portal page](../../docs/portal.md#a-new-link-by-e-mail) shows.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, expect
from sqlalchemy.orm import Session

from loyalty_plugin.models import Account, Customer
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.customers import portal
from tests.browser import LiveServer
from tests.pages.test_portal import ana  # noqa: F401 (a fixture)
from tests.pages.test_screenshots import WIDTHS, at_width, look, shots  # noqa: F401 (shots)


@pytest.mark.backends("sqlite")
@pytest.mark.parametrize("width", WIDTHS)
def test_the_new_link_form_and_its_answer_fit_the_screen(
    width: str,
    app: Flask,
    live_server: LiveServer,
    browser: Browser,
    session: Session,
    ana: Account,  # noqa: F811
    shots: Path,  # noqa: F811
) -> None:
    """The form under "This link has expired", a typing mistake, and "Check your inbox"."""
    session.get_one(Customer, ana.customer_id).email = "ana.silva@example.com"
    session.commit()
    token = portal.make_token(
        app.config["LOYALTY_SECRET_KEY"], merchant_id="shop", customer_id=ana.customer_id,
        expires_at=utcnow() - timedelta(days=2),
    )  # fmt: skip
    page = at_width(browser, width)()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(live_server.url(f"/loyalty/portal/link/{token}"))
    page.get_by_label("Your e-mail address").fill("ana.silva@example.com")
    look(page, shots, f"portal-new-link-form-{width}", "This link has expired")
    page.get_by_label("Your e-mail address").fill("ana.silva@example")
    page.get_by_role("button", name="E-mail me a new link").click()
    expect(page.get_by_role("alert")).to_contain_text("Enter the e-mail address you gave us")
    look(page, shots, f"portal-new-link-mistake-{width}", "This link has expired")
    page.get_by_label("Your e-mail address").fill("ana.silva@example.com")
    page.get_by_role("button", name="E-mail me a new link").click()
    look(page, shots, f"portal-new-link-sent-{width}", "Check your inbox")
    # The pages' own statuses (410, 422) are logged as "Failed to load resource"; nothing
    # else may be (a style or a script refused by the CSP would be).
    assert [e for e in errors if not e.startswith("Failed to load resource")] == []
