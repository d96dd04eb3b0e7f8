"""The Jobs and Outbox screens in Chromium (issue 15): an owner opens Operations from the
bar, runs "expire points" for their shop (another shop's points stay), reads the run;
a manager finds a failed e-mail, retries it, and cancels a queued one."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select

from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import Account, EmailMessage, EmailStatus, Merchant
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.ledger.accounts import open_account, upsert_customer
from loyalty_plugin.services.merchants.registration import create_merchant
from tests.admin.navigation import open_screen
from tests.admin.test_cards_pages import sign_in
from tests.admin.test_operations_views import _email
from tests.pages.conftest import LiveServer


def expired_points(app: Flask, merchant: str, host_id: str, points: int) -> int:
    """A customer of ``merchant`` whose ``points`` expired yesterday (not yet by the job)."""
    with app.app_context():
        session = get_session()
        if session.get(Merchant, merchant) is None:
            create_merchant(session, merchant_id=merchant, name=merchant.title(), currency="EUR")
        customer = upsert_customer(
            session, merchant_id=merchant, host_customer_id=host_id, first_name="Ana"
        )
        account = open_account(session, merchant_id=merchant, customer_id=customer.id)
        long_ago = utcnow() - timedelta(days=400)
        ledger.earn(session, account_id=account.id, points=points, now=long_ago, actor="t",
                    expires_at=utcnow() - timedelta(days=1))  # fmt: skip
        session.commit()
        return account.id


def balance(app: Flask, account_id: int) -> int:
    with app.app_context():
        return get_session().get(Account, account_id).balance


def test_an_owner_runs_expiry_for_their_shop_from_the_jobs_screen(
    app: Flask, live_server: LiveServer, page: Page, staff_member
) -> None:
    mine = expired_points(app, "shop", "c1", 120)
    theirs = expired_points(app, "bakery", "c1", 80)
    owner = staff_member(role="owner", merchant="shop", password=True, name="Olga Owner")
    sign_in(page, live_server, owner)
    page.goto(live_server.url("/loyalty/admin/m/shop/"))
    page.on("dialog", lambda dialog: dialog.accept())
    open_screen(page, "Jobs")
    expect(page.get_by_role("heading", level=1)).to_have_text("Jobs")
    row = page.locator("tr[data-job='expire-points']")
    expect(row).to_contain_text("every 1h")
    expect(row).to_contain_text("Not run yet")
    row.get_by_role("button", name="Run now").click()
    expect(page.locator(".flash")).to_contain_text("expire-points ran for this shop: 1 done")
    runs = page.get_by_test_id("runs-expire-points")
    expect(runs).to_contain_text("Succeeded")
    expect(runs).to_contain_text("this shop")
    expect(runs).to_contain_text("Olga Owner")
    assert balance(app, mine) == 0
    assert balance(app, theirs) == 80  # another shop's work is not this owner's to run


def test_a_manager_retries_a_failed_email_and_cancels_a_queued_one(
    app: Flask, live_server: LiveServer, page: Page, staff_member
) -> None:
    queued = _email(app, "shop", to="ana@example.com")
    failed = _email(app, "shop", to="bo@example.com", status=EmailStatus.FAILED,
                    error="550 5.1.1 no such mailbox")  # fmt: skip
    manager = staff_member(role="manager", merchant="shop", password=True, name="Mia Manager")
    sign_in(page, live_server, manager)
    page.goto(live_server.url("/loyalty/admin/m/shop/"))
    page.on("dialog", lambda dialog: dialog.accept())
    open_screen(page, "Outbox")
    expect(page.get_by_role("heading", level=1)).to_have_text("E-mail outbox")
    page.get_by_label("Status").select_option("failed")
    page.get_by_role("button", name="Filter").click()
    table = page.get_by_test_id("outbox-table")
    expect(table.locator("tr[data-email]")).to_have_count(1)
    expect(table).to_contain_text("550 5.1.1 no such mailbox")
    table.get_by_role("link", name="bo@example.com").click()
    expect(page.get_by_test_id("email-subject")).to_contain_text("Welcome to the Shop")
    expect(page.get_by_test_id("email-text")).to_contain_text("Ana")
    page.get_by_test_id("retry").click()
    expect(page.locator(".flash")).to_contain_text(f"E-mail {failed} queued again")
    expect(page.get_by_test_id("email-status")).to_have_text("Queued")
    page.goto(live_server.url(f"/loyalty/admin/m/shop/outbox/{queued}"))
    page.get_by_test_id("cancel").click()
    expect(page.get_by_test_id("email-status")).to_have_text("Cancelled")
    expect(page.get_by_test_id("cancel")).to_have_count(0)
    with app.app_context():
        statuses = dict(get_session().execute(select(EmailMessage.id, EmailMessage.status)).all())
    assert statuses == {queued: EmailStatus.CANCELLED, failed: EmailStatus.QUEUED}
