"""The Programs screen at desktop and phone width (``make screenshots``): nothing overflows.

A draft with two rules after three paid invoices: its page, a rule's editor, its simulation
and the list; with ``LOYALTY_SCREENSHOTS=1`` they replace ``docs/screenshots/admin-program*.png``,
which [the admin pages' doc](../../docs/admin.md#programs) shows.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser

from tests.admin.conftest import ADMIN
from tests.admin.test_cards_pages import sign_in
from tests.admin.test_programs_pages import create_program, shop_with_history
from tests.pages.conftest import LiveServer
from tests.pages.test_screenshots import WIDTHS, at_width, look, shots  # noqa: F401


@pytest.mark.backends("sqlite")
@pytest.mark.parametrize("width", WIDTHS)
def test_admin_programs_pages_fit_the_screen(
    width: str,
    app: Flask,
    live_server: LiveServer,
    browser: Browser,
    staff_member,
    shots: Path,  # noqa: F811
) -> None:
    owner = shop_with_history(app, live_server, staff_member)
    page = at_width(browser, width)()
    page.set_default_timeout(10_000)
    sign_in(page, live_server, owner)
    page.goto(live_server.url(f"{ADMIN}/m/shop/"))
    create_program(page)
    look(page, shots, f"admin-program-{width}", "Spring shoes")
    page.goto(live_server.url(f"{ADMIN}/m/shop/programs/spring/rules/shoes"))
    look(page, shots, f"admin-program-rule-{width}", "Per category rule")
    page.goto(live_server.url(f"{ADMIN}/m/shop/programs/spring/simulate?last=50"))
    look(page, shots, f"admin-program-simulate-{width}", "Simulate Spring shoes")
    page.goto(live_server.url(f"{ADMIN}/m/shop/programs"))
    look(page, shots, f"admin-programs-{width}", "Programs")
