"""The Spending screen in Chromium: a manager sets coupon conversion with a minimum, sees a
bad value refused at its field, and adds a reward to the catalogue; with a store credit
wallet, sets how credit is spent (#19)."""

from __future__ import annotations

from decimal import Decimal

from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select

from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import MerchantSettings, Reward
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.spending.settings import update_settings
from tests.admin.navigation import open_screen
from tests.admin.test_cards_pages import sign_in
from tests.pages.conftest import LiveServer


def set_coupon_conversion(page: Page) -> None:
    """From any admin page: 100 points make 1.00, from 500 points, coupons valid 60 days."""
    open_screen(page, "Spending")
    expect(page.get_by_role("heading", level=1)).to_have_text("Spending")
    form = page.get_by_test_id("settings-form")
    form.get_by_label("Maximum share of an invoice (%)").fill("150")
    form.get_by_role("button", name="Save spending settings").click()
    expect(page.locator("#f-max_invoice_share-error")).to_have_text("A share is between 0 and 100.")
    expect(form.get_by_label("Maximum share of an invoice (%)")).to_have_value("150")
    form.get_by_label("Maximum share of an invoice (%)").fill("50")
    form.locator("#f-coupon_min_points").fill("500")
    form.get_by_label("Valid for (days)").fill("60")
    form.get_by_role("button", name="Save spending settings").click()
    expect(page.locator(".flash")).to_have_text("Spending settings saved.")
    expect(page.get_by_test_id("rate-summary")).to_contain_text("at most 50% of an invoice")


def add_reward(page: Page) -> None:
    form = page.get_by_test_id("reward-form")
    form.get_by_label("Name").fill("Free coffee")
    form.get_by_label("Price in points").fill("300")
    form.get_by_label("Amount (EUR)").fill("2.50")
    form.get_by_label("Stock").fill("40")
    form.get_by_label("Per customer").fill("2")
    form.get_by_role("button", name="Add the reward").click()
    expect(page.locator(".flash")).to_have_text("Free coffee is in the catalogue for 300 points.")
    row = page.get_by_test_id("rewards-table").locator("tr[data-reward]")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("300 points")


def open_reward_editor(page: Page) -> None:
    """From the Spending screen: the reward's Edit; an end before the start is refused."""
    row = page.get_by_test_id("rewards-table").locator("tr[data-reward]")
    row.get_by_role("link", name="Edit").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Free coffee")
    form = page.get_by_test_id("reward-edit-form")
    form.get_by_label("On offer from").fill("2026-12-20")
    form.get_by_label("On offer until").fill("2026-12-10")
    form.get_by_role("button", name="Save the reward").click()
    expect(page.locator("#f-active_until-error")).to_have_text("The end must be after the start.")
    expect(form.get_by_label("On offer until")).to_have_value("2026-12-10")


def save_reward_dates(page: Page) -> None:
    form = page.get_by_test_id("reward-edit-form")
    form.get_by_label("On offer until").fill("2027-01-06")
    form.get_by_role("button", name="Save the reward").click()
    expect(page.locator(".flash")).to_have_text("Free coffee saved.")
    row = page.get_by_test_id("rewards-table").locator("tr[data-reward]")
    expect(row.locator(".r-dates")).to_contain_text("until Jan 6, 2027")


def credit_wallet(app: Flask) -> None:
    """Switch on shop's EUR store credit wallet (#19), as PATCH /settings would."""
    with app.app_context():
        session = get_session()
        changes = {"credit_currencies": ["EUR"]}
        update_settings(session, merchant_id="shop", changes=changes, now=utcnow(), actor="t")
        session.commit()


def set_store_credit(page: Page) -> None:
    """From any admin page of a merchant with a credit wallet: credit pays at most 40% of an
    invoice, buys coupons, and 100 points become 0.80 of credit; 150% is refused first."""
    open_screen(page, "Spending")
    form = page.get_by_test_id("credit-form")
    share = form.get_by_label("Maximum share of an invoice paid with credit (%)")
    share.fill("150")
    form.get_by_label("Customers may buy coupons with store credit").check()
    form.get_by_label("Points turned into credit").fill("100")
    form.get_by_label("Become credit of (EUR)").fill("0.80")
    form.get_by_role("button", name="Save store credit settings").click()
    expect(page.locator("#f-credit_max_invoice_share-error")).to_have_text(
        "A share is between 0 and 100."
    )
    expect(share).to_have_value("150")
    expect(form.get_by_label("Points turned into credit")).to_have_value("100")
    share.fill("40")
    form.get_by_role("button", name="Save store credit settings").click()
    expect(page.locator(".flash")).to_have_text("Store credit settings saved.")
    summary = page.get_by_test_id("credit-summary")
    expect(summary).to_contain_text("store credit pays at most 40% of an invoice")
    expect(summary).to_contain_text("100 points become €0.80 of credit")


def test_a_manager_sets_coupon_conversion_and_adds_a_reward(
    app: Flask, live_server: LiveServer, page: Page, staff_member
) -> None:
    manager = staff_member(role="manager", merchant="shop", password=True, name="Mia Manager")
    sign_in(page, live_server, manager)
    page.goto(live_server.url("/loyalty/admin/m/shop/"))
    set_coupon_conversion(page)
    add_reward(page)
    open_reward_editor(page)
    save_reward_dates(page)
    with app.app_context():
        session = get_session()
        stored = session.get(MerchantSettings, "shop")
        assert stored is not None
        assert (stored.coupon_min_points, stored.coupon_valid_days) == (500, 60)
        assert stored.max_invoice_share == 50
        (reward,) = session.scalars(select(Reward)).all()
        assert (reward.points, reward.stock, reward.per_customer_limit) == (300, 40, 2)
        assert reward.active_until.isoformat() == "2027-01-07T00:00:00+00:00"


def test_a_manager_sets_how_store_credit_is_spent(
    app: Flask, live_server: LiveServer, page: Page, staff_member
) -> None:
    manager = staff_member(role="manager", merchant="shop", password=True, name="Mia Manager")
    credit_wallet(app)
    sign_in(page, live_server, manager)
    page.goto(live_server.url("/loyalty/admin/m/shop/"))
    set_store_credit(page)
    with app.app_context():
        stored = get_session().get(MerchantSettings, "shop")
        assert stored is not None
        assert (stored.credit_max_invoice_share, stored.credit_coupons) == (40, True)
        rate = (stored.points_to_credit_points, stored.points_to_credit_amount)
        assert rate == (100, Decimal("0.80"))
