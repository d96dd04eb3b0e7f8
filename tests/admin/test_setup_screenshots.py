"""The program setup screens at desktop and phone width (``make screenshots``): nothing
overflows. With ``LOYALTY_SCREENSHOTS=1`` they replace ``docs/screenshots/admin-spending*.png``
(with a store credit wallet too: ``admin-spending-credit-*``) and the other setup screens',
which [the admin pages' doc](../../docs/admin.md#spending) shows.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, expect

from tests.admin.test_cards_pages import sign_in
from tests.admin.test_expiry_pages import points_past_their_date, set_policy
from tests.admin.test_levels_pages import add_silver_and_gold
from tests.admin.test_spending_pages import (
    add_reward,
    credit_wallet,
    open_reward_editor,
    save_reward_dates,
    set_coupon_conversion,
    set_store_credit,
)
from tests.pages.conftest import LiveServer
from tests.pages.test_screenshots import WIDTHS, at_width, look, shots  # noqa: F401


@pytest.mark.backends("sqlite")
@pytest.mark.parametrize("width", WIDTHS)
def test_admin_setup_pages_fit_the_screen(
    width: str,
    app: Flask,
    live_server: LiveServer,
    browser: Browser,
    staff_member,
    shots: Path,  # noqa: F811
) -> None:
    points_past_their_date(app)
    manager = staff_member(role="manager", merchant="shop", password=True, name="Mia Manager")
    page = at_width(browser, width)()
    sign_in(page, live_server, manager)
    page.goto(live_server.url("/loyalty/admin/m/shop/"))
    set_coupon_conversion(page)
    add_reward(page)
    open_reward_editor(page)
    look(page, shots, f"admin-reward-{width}", "Free coffee")
    save_reward_dates(page)
    look(page, shots, f"admin-spending-{width}", "Spending")
    add_silver_and_gold(page)
    look(page, shots, f"admin-levels-{width}", "Membership levels")
    set_policy(page)
    look(page, shots, f"admin-expiry-{width}", "Expiry and reminders")
    credit_wallet(app)
    page.reload()
    page.get_by_label("Store credit expires after months").fill("12")
    page.get_by_role("button", name="Save store credit expiry").click()
    expect(page.get_by_label("Store credit expires after months")).to_have_value("12")
    look(page, shots, f"admin-expiry-credit-{width}", "Expiry and reminders")
    set_store_credit(page)
    look(page, shots, f"admin-spending-credit-{width}", "Spending")
