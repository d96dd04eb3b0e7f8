"""The Coupons screen in Chromium: a manager finds a customer's coupon by the code they
read out, cancels it (the points go back), and the list shows it cancelled; pictured at
desktop and phone width (``LOYALTY_SCREENSHOTS=1`` writes ``docs/screenshots/admin-coupons*``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import Account
from tests.admin.navigation import open_screen
from tests.admin.test_cards_pages import sign_in
from tests.admin.test_coupons_views import campaign_coupons, coupon_bought
from tests.pages.conftest import LiveServer
from tests.pages.test_screenshots import WIDTHS, at_width, look, shots  # noqa: F401


def cancel_by_code(page: Page, code: str) -> None:
    """From any admin page: search the code as read out (lower case, spaces), cancel it."""
    open_screen(page, "Coupons")
    expect(page.get_by_role("heading", level=1)).to_have_text("Coupons")
    filters = page.get_by_test_id("coupon-filters")
    filters.get_by_label("Code").fill(code.replace("-", " ").lower())
    filters.get_by_role("button", name="Show").click()
    rows = page.get_by_test_id("coupons-table").locator("tr[data-coupon]")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("Marta Silva")
    page.once("dialog", lambda dialog: dialog.accept())
    rows.get_by_role("button", name="Cancel and return 500 points").click()
    expect(page.locator(".flash")).to_have_text(
        f"Coupon {code} is cancelled. 500 points went back to the customer."
    )
    expect(rows.locator(".c-status")).to_contain_text("cancelled")


def test_a_manager_cancels_a_coupon_a_customer_reads_out(
    app: Flask, live_server: LiveServer, page: Page, staff_member
) -> None:
    code = coupon_bought(app)
    manager = staff_member(role="manager", merchant="shop", password=True, name="Mia Manager")
    sign_in(page, live_server, manager)
    page.goto(live_server.url("/loyalty/admin/m/shop/"))
    cancel_by_code(page, code)
    with app.app_context():
        assert get_session().scalars(select(Account.balance)).one() == 800


@pytest.mark.backends("sqlite")
@pytest.mark.parametrize("width", WIDTHS)
def test_the_coupons_screen_fits_the_screen(
    width: str,
    app: Flask,
    live_server: LiveServer,
    browser: Browser,
    staff_member,
    shots: Path,  # noqa: F811
) -> None:
    campaign_coupons(app, 3)
    code = coupon_bought(app)
    coupon_bought(app, "43", name="Jonas Weber")
    manager = staff_member(role="manager", merchant="shop", password=True, name="Mia Manager")
    page = at_width(browser, width)()
    sign_in(page, live_server, manager)
    page.goto(live_server.url("/loyalty/admin/m/shop/"))
    cancel_by_code(page, code)
    page.get_by_role("link", name="Clear").click()
    expect(page.get_by_test_id("coupons-table").locator("tr[data-coupon]")).to_have_count(5)
    look(page, shots, f"admin-coupons-{width}", "Coupons")
