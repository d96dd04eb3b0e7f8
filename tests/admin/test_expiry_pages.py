"""The Expiry and reminders screen in Chromium: a manager sets the policy, sees a bad
reminder offset refused at its field, and the preview's numbers are what the expiry job
then expires."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from playwright.sync_api import Page, expect

from loyalty_plugin.extensions import get_session
from loyalty_plugin.jobs.expiry import run_date_expiry
from loyalty_plugin.models import Customer, ExpirySettings
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.ledger.accounts import account_for_host_customer
from tests.admin.conftest import ensure_merchant
from tests.admin.navigation import open_screen
from tests.admin.test_cards_pages import sign_in
from tests.pages.conftest import LiveServer


def points_past_their_date(app: Flask) -> None:
    """Three customers of shop: 120, 30 and 45 points past their date, 5 each still valid."""
    now = utcnow()
    with app.app_context():
        session = get_session()
        ensure_merchant("shop")
        for host_id, points in (("41", 120), ("42", 30), ("43", 45)):
            session.add(Customer(merchant_id="shop", host_customer_id=host_id,
                                 first_name="Ana", last_name="Silva"))  # fmt: skip
            session.flush()
            account = account_for_host_customer(session, "shop", host_id)
            for amount, days in ((points, -1), (5, 20)):
                ledger.earn(session, account_id=account.id, points=amount,
                            now=now - timedelta(days=30), actor="test",
                            expires_at=now + timedelta(days=days))  # fmt: skip
        session.commit()


def set_policy(page: Page) -> None:
    """From any admin page: points last a year, reminders 30 and 7 days before."""
    open_screen(page, "Expiry")
    expect(page.get_by_role("heading", level=1)).to_have_text("Expiry and reminders")
    form = page.get_by_test_id("policy-form")
    form.get_by_label("Points expire").select_option("days_after_earning")
    form.get_by_label("Days after earning").fill("365")
    form.get_by_label("Reminder days before expiry").fill("30, 0")
    form.get_by_role("button", name="Save the expiry policy").click()
    expect(page.locator("#f-reminder_days-error")).to_have_text(
        "Reminder offsets are whole days from 1 to 3650."
    )
    form.get_by_label("Reminder days before expiry").fill("30, 7")
    form.get_by_role("button", name="Save the expiry policy").click()
    expect(page.locator(".flash")).to_contain_text("Expiry policy saved")


def test_the_preview_is_what_the_expiry_job_then_does(
    app: Flask, live_server: LiveServer, page: Page, staff_member
) -> None:
    points_past_their_date(app)
    manager = staff_member(role="manager", merchant="shop", password=True, name="Mia Manager")
    sign_in(page, live_server, manager)
    page.goto(live_server.url("/loyalty/admin/m/shop/"))
    set_policy(page)
    with app.app_context():
        row = get_session().get(ExpirySettings, "shop")
        assert row is not None and (row.days, row.reminder_days) == (365, [30, 7])
    points = int(page.get_by_test_id("preview-points").inner_text().replace(",", ""))
    customers = int(page.get_by_test_id("preview-customers").inner_text())
    assert (points, customers) == (195, 3)
    with app.app_context():
        done = run_date_expiry(get_session(), now=utcnow())
    assert (done.points, done.accounts) == (points, customers)
    page.reload()
    expect(page.get_by_test_id("preview-points")).to_have_text("0")
