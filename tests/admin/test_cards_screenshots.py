"""The Cards screen at desktop and phone width (``make screenshots``): nothing overflows.

The list after a batch of 100 and one card given out, and that card's page; with
``LOYALTY_SCREENSHOTS=1`` they replace ``docs/screenshots/admin-cards*.png``, which
[the admin pages' doc](../../docs/admin.md#cards) shows.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser

from tests.admin.test_cards_pages import add_customer, generate_and_assign, sign_in
from tests.pages.conftest import LiveServer
from tests.pages.test_screenshots import WIDTHS, at_width, look, shots  # noqa: F401


@pytest.mark.backends("sqlite")
@pytest.mark.parametrize("width", WIDTHS)
def test_admin_cards_pages_fit_the_screen(
    width: str,
    app: Flask,
    live_server: LiveServer,
    browser: Browser,
    staff_member,
    shots: Path,  # noqa: F811
) -> None:
    manager = staff_member(role="manager", merchant="shop", password=True, name="Mia Manager")
    add_customer(app)
    page = at_width(browser, width)()
    sign_in(page, live_server, manager)
    page.goto(live_server.url("/loyalty/admin/m/shop/cards"))
    number = generate_and_assign(page, live_server)
    look(page, shots, f"admin-cards-card-{width}", f"Card {number[:4]}")
    page.goto(live_server.url("/loyalty/admin/m/shop/cards"))
    look(page, shots, f"admin-cards-{width}", "Cards")
