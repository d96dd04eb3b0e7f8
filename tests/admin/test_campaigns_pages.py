"""The Campaigns screen in Chromium: a manager makes a summer campaign, sees a bad count
refused at its field, opens it, and ends it; pictured at desktop and phone width
(``LOYALTY_SCREENSHOTS=1`` writes ``docs/screenshots/admin-campaign*``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import Coupon
from tests.admin.navigation import open_screen
from tests.admin.test_cards_pages import sign_in
from tests.pages.conftest import LiveServer
from tests.pages.test_screenshots import WIDTHS, at_width, look, shots  # noqa: F401


def make_campaign(page: Page, name: str = "Summer sale", count: str = "50") -> None:
    """From any admin page: a 10 % campaign, a mistake first."""
    open_screen(page, "Campaigns")
    expect(page.get_by_role("heading", level=1)).to_have_text("Campaigns")
    form = page.get_by_test_id("campaign-form")
    form.get_by_label("Name").fill(name)
    form.get_by_label("How many coupons").fill("9000")
    form.get_by_label("Percent").fill("10")
    form.get_by_label("Code prefix").fill("summer")
    form.get_by_label("Valid until").fill("2031-08-31")
    form.get_by_role("button", name="Make the coupons").click()
    expect(page.locator("#f-count-error")).to_contain_text("less than or equal to 5000")
    form.get_by_label("How many coupons").fill(count)
    form.get_by_role("button", name="Make the coupons").click()
    expect(page.locator(".flash")).to_have_text(f"{name}: {count} coupons made.")
    expect(page.get_by_role("heading", level=1)).to_have_text(name)


def end_campaign(page: Page, name: str = "Summer sale") -> None:
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="End the campaign now").click()
    expect(page.locator(".flash")).to_contain_text(f"{name} has ended;")
    expect(page.get_by_test_id("campaign-figures")).to_contain_text("Cancelled")


def test_a_manager_makes_and_ends_a_campaign(
    app: Flask, live_server: LiveServer, page: Page, staff_member
) -> None:
    manager = staff_member(role="manager", merchant="shop", password=True, name="Mia Manager")
    sign_in(page, live_server, manager)
    page.goto(live_server.url("/loyalty/admin/m/shop/"))
    make_campaign(page)
    end_campaign(page)
    with app.app_context():
        assert set(get_session().scalars(select(Coupon.status))) == {"cancelled"}


@pytest.mark.backends("sqlite")
@pytest.mark.parametrize("width", WIDTHS)
def test_the_campaigns_screens_fit_the_screen(
    width: str,
    app: Flask,
    live_server: LiveServer,
    browser: Browser,
    staff_member,
    shots: Path,  # noqa: F811
) -> None:
    manager = staff_member(role="manager", merchant="shop", password=True, name="Mia Manager")
    page = at_width(browser, width)()
    sign_in(page, live_server, manager)
    page.goto(live_server.url("/loyalty/admin/m/shop/"))
    make_campaign(page, "Spring welcome", "20")
    end_campaign(page, "Spring welcome")
    make_campaign(page)
    look(page, shots, f"admin-campaign-{width}", "Summer sale")
    open_screen(page, "Campaigns")
    look(page, shots, f"admin-campaigns-{width}", "Campaigns")
