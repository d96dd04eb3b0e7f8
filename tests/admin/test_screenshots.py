"""The admin pages at desktop and phone width: nothing overflows, and the pictures.

As the portal's (``tests/pages/test_screenshots.py``): with ``LOYALTY_SCREENSHOTS=1``
(``make screenshots``) the pictures replace ``docs/screenshots/admin-*.png``, which
[the admin pages' doc](../../docs/admin.md#screens) shows. Screens add their own tests here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect

from loyalty_plugin.cli import main
from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import Account, Customer, Merchant
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.audit import Actor
from loyalty_plugin.services.merchants.registration import create_merchant
from loyalty_plugin.services.messaging.notifications import set_consent
from tests.admin.conftest import PASSWORD
from tests.admin.test_audit_pages import admin_key, call
from tests.admin.test_audit_pages import sign_in as sign_in_as
from tests.pages.conftest import LiveServer
from tests.pages.test_screenshots import WIDTHS, at_width, look, shots  # noqa: F401
from tests.reports.showcase import build_showcase

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


def a_day_of_changes(app: Flask, manager: Any) -> None:
    """What a merchant's trail looks like after a working day: API, staff and CLI changes."""
    token = admin_key(app)
    with app.app_context():
        session = get_session()
        ana = Customer(merchant_id="shop", host_customer_id="42", first_name="Ana",
                       last_name="Lima", email="ana@example.com")  # fmt: skip
        session.add(ana)
        session.flush()
        session.add(Account(merchant_id="shop", customer_id=ana.id))
        session.commit()
    call(app, token, "PATCH", "/settings",
         {"max_invoice_share": "25", "adjustment_approval_above": 500})  # fmt: skip
    adjustment = call(app, token, "POST", "/adjustments",
                      {"customer_id": "42", "points": 800, "reason": "Broken espresso machine",
                       "staff": "Ana Lima"})  # fmt: skip
    call(app, token, "POST", f"/adjustments/{adjustment['id']}/approve", {"staff": "Bruno"})
    call(app, token, "PATCH", "/programs/default", {"name": "Points on every order"})
    with app.app_context():
        session = get_session()
        set_consent(session, merchant_id="shop", customer_id="42", email_opt_in=True,
                    actor=Actor.staff(manager.id, manager.name), now=utcnow())  # fmt: skip
        session.commit()
    made = app.test_cli_runner().invoke(
        main, ["keys", "create", "--merchant", "shop", "--scope", "read", "--name", "till"]
    )
    assert made.exit_code == 0, made.output


@pytest.mark.backends("sqlite")
@pytest.mark.parametrize("width", WIDTHS)
def test_the_audit_page_fits_the_screen(
    width: str,
    app: Flask,
    live_server: LiveServer,
    browser: Browser,
    staff_member: Any,
    shots: Any,  # noqa: F811
) -> None:
    manager = staff_member(role="manager", name="Marta Ruiz", password=True)
    a_day_of_changes(app, manager)
    page = at_width(browser, width)()
    sign_in_as(page, live_server, manager)
    page.goto(live_server.url("/loyalty/admin/m/shop/audit"))
    look(page, shots, f"admin-audit-{width}", "Audit trail")


@pytest.mark.backends("sqlite")
@pytest.mark.parametrize("width", WIDTHS)
def test_report_pages_fit_the_screen(
    width: str,
    app: Flask,
    live_server: LiveServer,
    browser: Browser,
    staff_member,
    shots: Path,  # noqa: F811
) -> None:
    """The dashboard, the points journal and the aging report of a lively shop."""
    with app.app_context():
        build_showcase(get_session(), utcnow())
    staff_member(role="manager", email="marta@coffee.example", name="Marta Molina", password=True)
    page = at_width(browser, width)()
    page.goto(live_server.url("/loyalty/admin/sign-in"))
    page.get_by_label("E-mail address").fill("marta@coffee.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(live_server.url("/loyalty/admin/m/shop/"))
    expect(page.locator('canvas[data-table="weeks-table"]')).to_have_attribute("data-drawn", "true")
    look(page, shots, f"admin-dashboard-{width}", "Dashboard")
    page.goto(live_server.url("/loyalty/admin/m/shop/journal"))
    look(page, shots, f"admin-journal-{width}", "Points journal")
    page.goto(live_server.url("/loyalty/admin/m/shop/aging"))
    expect(page.locator('canvas[data-table="bands-table"]')).to_have_attribute("data-drawn", "true")
    look(page, shots, f"admin-aging-{width}", "Aging")
