"""The Membership levels screen in Chromium: a manager adds Silver and Gold to the default
program, sees a bad threshold refused at its field, and the program has a new version."""

from __future__ import annotations

from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select

from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import ProgramVersion
from tests.admin.navigation import open_screen
from tests.admin.test_cards_pages import sign_in
from tests.pages.conftest import LiveServer


def add_silver_and_gold(page: Page) -> None:
    """From any admin page: Bronze from 0, Silver from 500, Gold from 2,000 with 10 % off."""
    open_screen(page, "Levels")
    expect(page.get_by_role("heading", level=1)).to_have_text("Membership levels")
    form = page.get_by_test_id("levels-form")
    first, second = form.get_by_test_id("level-0"), form.get_by_test_id("level-1")
    first.get_by_label("Name").fill("Silver")
    first.get_by_label("Key").fill("silver")
    first.get_by_label("From (amount or points)").fill("500")
    second.get_by_label("Name").fill("Gold")
    second.get_by_label("Key").fill("gold")
    second.get_by_label("From (amount or points)").fill("2000")
    form.get_by_role("button", name="Save the levels").click()
    expect(page.locator("#f-t0_threshold-error")).to_have_text(
        "The lowest level's threshold must be 0."
    )
    form = page.get_by_test_id("levels-form")
    first = form.get_by_test_id("level-0")
    first.get_by_label("Name").fill("Bronze")
    first.get_by_label("Key").fill("bronze")
    first.get_by_label("From (amount or points)").fill("0")
    second = form.get_by_test_id("level-1")
    second.get_by_label("Name").fill("Silver")
    second.get_by_label("Key").fill("silver")
    second.get_by_label("From (amount or points)").fill("500")
    second.get_by_label("Point value: points").fill("100")
    second.get_by_label("…are worth").fill("1.50")
    third = form.get_by_test_id("level-2")
    third.get_by_label("Name").fill("Gold")
    third.get_by_label("Key").fill("gold")
    third.get_by_label("From (amount or points)").fill("2000")
    third.get_by_label("Earning multiplier").fill("1.5")
    third.get_by_label("Discount (%)").fill("10")
    third.get_by_label("On categories").fill("shoes")
    form.get_by_role("button", name="Save the levels").click()
    expect(page.locator(".flash")).to_contain_text("Levels saved")
    expect(page.get_by_test_id("levels-table").locator("tr[data-level]")).to_have_count(3)


def test_a_manager_adds_silver_and_gold_levels(
    app: Flask, live_server: LiveServer, page: Page, staff_member
) -> None:
    manager = staff_member(role="manager", merchant="shop", password=True, name="Mia Manager")
    sign_in(page, live_server, manager)
    page.goto(live_server.url("/loyalty/admin/m/shop/"))
    add_silver_and_gold(page)
    with app.app_context():
        newest = (
            get_session()
            .scalars(select(ProgramVersion).order_by(ProgramVersion.number.desc()))
            .first()
        )
        tiers = newest.settings["levels"]["tiers"]
    assert [(t["key"], t["threshold"]) for t in tiers] == [
        ("bronze", "0"), ("silver", "500"), ("gold", "2000")
    ]  # fmt: skip
    assert tiers[2]["discounts"][0]["categories"] == ["shoes"]
