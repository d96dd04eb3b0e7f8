"""The admin pages at desktop and phone width: nothing overflows, and the pictures.

As the portal's (``tests/pages/test_screenshots.py``): with ``LOYALTY_SCREENSHOTS=1``
(``make screenshots``) the pictures replace ``docs/screenshots/admin-*.png``, which
[the admin pages' doc](../../docs/admin.md#screens) shows. Screens add their own tests here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect

from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import Merchant
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.merchants.registration import create_merchant
from tests.admin.conftest import PASSWORD
from tests.pages.conftest import LiveServer
from tests.pages.test_screenshots import WIDTHS, at_width, look, shots  # noqa: F401

MERCHANTS = {"shop": "Coffee Roasters", "tea": "Tea House Lisbon", "bakery": "Bakery Berlin"}
TEAM = [
    ("Marta Silva", "marta@coffee.example", "manager"),
    ("Jonas Weber", "jonas@coffee.example", "staff"),
    ("Priya Nair", "priya@coffee.example", "staff"),
]


@pytest.fixture
def team(app: Flask, staff_member):
    """A merchant's owner with three merchants, and a small team."""
    with app.app_context():
        session = get_session()
        for merchant_id, name in MERCHANTS.items():
            if session.get(Merchant, merchant_id) is None:
                create_merchant(
                    session, merchant_id=merchant_id, name=name, currency="EUR", now=utcnow()
                )
        session.commit()
    owner = staff_member(role="owner", email="ana@coffee.example", name="Ana Lopez", password=True)
    staff_member(role="manager", merchant="tea", email=owner.email)
    staff_member(role="staff", merchant="bakery", email=owner.email)
    for name, email, role in TEAM:
        staff_member(role=role, email=email, name=name, password=True)
    return owner


def sign_in(page: Page, live_server: LiveServer, email: str) -> None:
    page.goto(live_server.url("/loyalty/admin/sign-in"))
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Choose a merchant")


@pytest.mark.backends("sqlite")
@pytest.mark.parametrize("width", WIDTHS)
def test_admin_pages_fit_the_screen(
    width: str,
    live_server: LiveServer,
    browser: Browser,
    team,
    shots: Path,  # noqa: F811
) -> None:
    page = at_width(browser, width)()
    page.goto(live_server.url("/loyalty/admin/sign-in"))
    look(page, shots, f"admin-sign-in-{width}", "Sign in")
    sign_in(page, live_server, team.email)
    look(page, shots, f"admin-choose-merchant-{width}", "Choose a merchant")
    page.goto(live_server.url("/loyalty/admin/m/shop/staff"))
    form = page.locator("form.grid-form")
    form.get_by_label("Name").fill("Tomás Ferreira")
    form.get_by_label("E-mail address").fill("tomas@coffee.example")
    form.get_by_label("Role").select_option("staff")
    form.get_by_role("button", name="Add").click()
    expect(page.get_by_test_id("password-link")).to_be_visible()
    look(page, shots, f"admin-staff-{width}", "Staff")
    page.goto(live_server.url("/loyalty/admin/sessions"))
    look(page, shots, f"admin-sessions-{width}", "My sessions")
