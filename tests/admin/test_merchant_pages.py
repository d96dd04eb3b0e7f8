"""The merchant's particulars in Chromium: an owner renames the merchant, picks a time zone
from the list, types an unknown locale (refused at its field), fixes it and saves."""

from __future__ import annotations

from flask import Flask
from playwright.sync_api import Page, expect

from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import Merchant
from tests.admin.test_cards_pages import sign_in
from tests.pages.conftest import LiveServer


def test_an_owner_edits_the_merchant(
    app: Flask, live_server: LiveServer, page: Page, staff_member
) -> None:
    owner = staff_member(role="owner", merchant="shop", password=True, name="Olga Owner")
    sign_in(page, live_server, owner)
    page.goto(live_server.url("/loyalty/admin/m/shop/settings"))
    form = page.get_by_test_id("merchant-form")
    form.get_by_label("Name").fill("Shop Lisboa")
    form.get_by_label("Time zone").select_option("Europe/Lisbon")
    form.get_by_label("Locale of e-mails").fill("xx_YY")
    form.get_by_role("button", name="Save the merchant").click()
    expect(page.locator("#f-locale-error")).to_have_text("'xx_YY' is not a known locale.")
    expect(form.get_by_label("Time zone")).to_have_value("Europe/Lisbon")
    form.get_by_label("Locale of e-mails").fill("pt_PT")
    form.get_by_role("button", name="Save the merchant").click()
    expect(page.locator(".flash")).to_have_text("Merchant saved.")
    with app.app_context():
        merchant = get_session().get(Merchant, "shop")
        assert (merchant.name, merchant.timezone) == ("Shop Lisboa", "Europe/Lisbon")
