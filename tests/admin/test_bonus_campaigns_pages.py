"""The Bonus campaigns screen in Chromium (#18): a manager makes a weekend campaign, sees a
bad multiplier refused at its field, and ends it; pictured at desktop and phone width
(``LOYALTY_SCREENSHOTS=1`` writes ``docs/screenshots/admin-bonus-campaigns-*``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import BonusCampaign
from tests.admin.navigation import open_screen
from tests.admin.test_cards_pages import sign_in
from tests.pages.conftest import LiveServer
from tests.pages.test_screenshots import WIDTHS, at_width, look, shots  # noqa: F401


def make_campaign(page: Page, name: str = "3x on Shoes", key: str = "shoes-weekend") -> None:
    """From any admin page: a 3x weekend campaign with a budget, a mistake first."""
    open_screen(page, "Bonus campaigns")
    expect(page.get_by_role("heading", level=1)).to_have_text("Bonus campaigns")
    form = page.get_by_test_id("bonus-campaign-form")
    form.get_by_label("Name").fill(name)
    form.get_by_label("Key").fill(key)
    form.get_by_label("Starts").fill("2031-06-06T00:00")
    form.get_by_label("Ends").fill("2031-06-08T00:00")
    form.get_by_label("Multiplier").fill("1")
    form.get_by_label("Budget", exact=True).fill("1000")
    form.get_by_label("Budget per customer").fill("100")
    form.get_by_label("Conditions (JSON)").fill('{"what": {"categories": ["shoes"]}}')
    form.get_by_role("button", name="Save the campaign").click()
    expect(page.locator("#f-multiplier-error")).to_have_text("Must be more than 1 and at most 100.")
    expect(form.get_by_label("Name")).to_have_value(name)
    form.get_by_label("Multiplier").fill("3")
    form.get_by_role("button", name="Save the campaign").click()
    expect(page.locator(".flash")).to_have_text(f"{name} saved.")
    expect(page.locator(f'tr[data-campaign="{key}"]')).to_contain_text("scheduled")


def test_a_manager_makes_and_ends_a_bonus_campaign(
    app: Flask, live_server: LiveServer, page: Page, staff_member
) -> None:
    manager = staff_member(role="manager", merchant="shop", password=True, name="Mia Manager")
    sign_in(page, live_server, manager)
    page.goto(live_server.url("/loyalty/admin/m/shop/"))
    make_campaign(page)
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator('tr[data-campaign="shoes-weekend"]').get_by_role("button", name="End now").click()
    expect(page.locator(".flash")).to_have_text("3x on Shoes has ended.")
    with app.app_context():
        assert get_session().scalar(select(BonusCampaign.ended_at)) is not None


@pytest.mark.backends("sqlite")
@pytest.mark.parametrize("width", WIDTHS)
def test_the_bonus_campaigns_screen_fits_the_screen(
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
    make_campaign(page)
    make_campaign(page, "Double points for VIPs", "vip-double")
    look(page, shots, f"admin-bonus-campaigns-{width}", "Bonus campaigns")


def change_campaign(page: Page, key: str = "shoes-weekend") -> None:
    """From the list: open a campaign's form, a budget below zero first, then 4x."""
    page.get_by_test_id(f"edit-{key}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Change 3x on Shoes")
    form = page.get_by_test_id("bonus-campaign-edit-form")
    expect(form.get_by_label("Multiplier")).to_have_value("3")
    expect(form.get_by_label("Starts")).to_have_value("2031-06-06T00:00")
    form.get_by_label("Name").fill("4x on Shoes")
    form.get_by_label("Multiplier").fill("4")
    form.get_by_label("Budget", exact=True).fill("-5")
    form.get_by_role("button", name="Save the changes").click()
    expect(page.locator("#f-budget-error")).to_have_text(
        "Must be a whole number from 1 to 1,000,000,000,000."
    )
    expect(form.get_by_label("Name")).to_have_value("4x on Shoes")


def test_a_manager_changes_a_bonus_campaign(
    app: Flask, live_server: LiveServer, page: Page, staff_member
) -> None:
    """Change → a mistake shown at its field, the form kept → saved, the list updated."""
    manager = staff_member(role="manager", merchant="shop", password=True, name="Mia Manager")
    sign_in(page, live_server, manager)
    page.goto(live_server.url("/loyalty/admin/m/shop/"))
    make_campaign(page)
    change_campaign(page)
    form = page.get_by_test_id("bonus-campaign-edit-form")
    form.get_by_label("Budget", exact=True).fill("2000")
    form.get_by_role("button", name="Save the changes").click()
    expect(page.locator(".flash")).to_have_text("4x on Shoes saved.")
    row = page.locator('tr[data-campaign="shoes-weekend"]')
    expect(row).to_contain_text("\u00d74")  # the multiplication sign
    expect(row).to_contain_text("2,000 of 2,000")


@pytest.mark.backends("sqlite")
@pytest.mark.parametrize("width", WIDTHS)
def test_the_bonus_campaign_form_fits_the_screen(
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
    make_campaign(page)
    change_campaign(page)
    form = page.get_by_test_id("bonus-campaign-edit-form")
    name, starts = (
        form.get_by_label("Name").bounding_box(),
        form.get_by_label("Starts").bounding_box(),
    )
    # Drawn like the other inputs: as tall (within Chromium's 2 px), and within its column.
    assert name and starts and abs(starts["height"] - name["height"]) <= 2, (starts, name)
    column = form.locator(".field", has=page.get_by_label("Starts")).bounding_box()
    assert column and starts["width"] <= column["width"], (starts, column)
    save = form.get_by_role("button", name="Save the changes").bounding_box()
    fields = [
        form.locator(".field").nth(i).bounding_box() for i in range(form.locator(".field").count())
    ]
    lowest = max(box["y"] + box["height"] for box in fields if box)
    assert save and save["y"] >= lowest, "the Save button sits among the fields"
    look(page, shots, f"admin-bonus-campaign-edit-{width}", "Change 3x on Shoes")
