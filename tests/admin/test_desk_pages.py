"""The customer desk in a real Chromium, on the served app: from a signed ``invoice.paid``
to a second staff member approving an adjustment over the limit.

The browser signs in through the sign-in page as two managers. The test's session sets
the merchant up and reads the database; it commits after every read so that, on SQLite,
it never holds the write lock while the browser waits for the server.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from collections.abc import Callable

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.signatures import signature_headers
from loyalty_plugin.models import Account, Customer, StaffRole
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.merchants.registration import create_merchant
from loyalty_plugin.services.merchants.secrets import create_secret
from loyalty_plugin.services.spending.settings import update_settings
from loyalty_plugin.services.staff.accounts import add_to_merchant, create_staff
from tests.browser import LiveServer

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
PASSWORD = "correct horse battery"
pytestmark = pytest.mark.backends("sqlite", "postgresql")


@pytest.fixture
def shop(session: Session) -> Session:
    """Café Lumière, whose adjustments over 500 points wait, with two managers."""
    now = utcnow()
    create_merchant(session, merchant_id="shop", name="Café Lumière", currency="EUR", now=now)
    create_secret(session, merchant_id="shop", now=now, secret=SECRET)
    update_settings(session, merchant_id="shop", changes={"adjustment_approval_above": 500},
                    now=now, actor="test")  # fmt: skip
    for email, name in (("ana@cafe.example", "Ana Duarte"), ("bo@cafe.example", "Bo Lind")):
        staff = create_staff(session, email=email, name=name, password=PASSWORD, now=now)
        add_to_merchant(session, staff, merchant_id="shop", role=StaffRole.MANAGER, now=now)
    session.commit()
    return session


def send_invoice_paid(live_server: LiveServer) -> None:
    """The host's signed ``invoice.paid`` for a customer the plugin has never seen."""
    body = json.dumps({
        "type": "invoice.paid", "merchant_id": "shop",
        "occurred_at": utcnow().isoformat(),
        "data": {"invoice": {
            "id": "INV-1042", "customer_id": "c-77", "currency": "EUR", "total": "184.50",
            "customer": {"id": "c-77", "first_name": "Marta", "last_name": "Oliveira",
                         "email": "marta@example.com"},
            "items": [{"id": "L1", "qty": 2, "total": "120.00"},
                      {"id": "L2", "qty": 1, "total": "64.50"}],
        }},
    }).encode()  # fmt: skip
    headers = signature_headers(
        [SECRET], msg_id="msg_desk_1", timestamp=int(time.time()), body=body
    )
    request = urllib.request.Request(
        live_server.url("/loyalty/webhooks"), data=body, method="POST",
        headers=headers | {"content-type": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status in (200, 201, 202)


def sign_in(page: Page, live_server: LiveServer, email: str) -> None:
    page.goto(live_server.url("/loyalty/admin/sign-in"))
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("staff-name")).to_be_visible()


def balance_of(session: Session, host_id: str) -> int:
    session.expire_all()
    found = session.scalar(
        select(Account.balance).join(Customer).where(Customer.host_customer_id == host_id)
    )
    session.commit()
    return found or 0


def new_page(browser: Browser) -> Callable[[], Page]:
    def make() -> Page:
        tab = browser.new_context(locale="en-GB").new_page()
        tab.set_default_timeout(10_000)
        return tab

    return make


def test_from_a_paid_invoice_to_an_approved_adjustment(
    app: Flask, live_server: LiveServer, browser: Browser, shop: Session
) -> None:
    """Find the customer an invoice created, read the balance and the breakdown, adjust,
    and have an adjustment over the limit approved by a second manager."""
    send_invoice_paid(live_server)
    earned = balance_of(shop, "c-77")
    assert earned > 0
    ana = new_page(browser)()
    sign_in(ana, live_server, "ana@cafe.example")
    ana.goto(live_server.url("/loyalty/admin/m/shop/customers"))
    ana.get_by_test_id("customer-search").fill("oliv")
    ana.get_by_role("button", name="Search").click()
    expect(ana).to_have_url(re.compile(r"/customers\?q=oliv"))
    ana.get_by_role("link", name="Marta Oliveira").click()
    expect(ana.get_by_test_id("customer-name")).to_have_text("Marta Oliveira")
    expect(ana.get_by_test_id("balance-total")).to_have_text(f"{earned:,}")
    breakdown = ana.get_by_test_id("breakdown").first
    breakdown.locator("summary").click()
    expect(breakdown.locator("table")).to_contain_text("L1")
    expect(breakdown.locator("table")).to_contain_text("L2")

    form = ana.get_by_test_id("adjust-form")
    form.get_by_label("Points", exact=True).fill("100")
    form.get_by_label("Reason").fill("Birthday cake was late")
    form.get_by_role("button", name="Adjust").click()
    expect(ana.get_by_test_id("flash")).to_contain_text("+100 points adjusted")
    expect(ana.get_by_test_id("balance-total")).to_have_text(f"{earned + 100:,}")

    form = ana.get_by_test_id("adjust-form")
    form.get_by_label("Points", exact=True).fill("1,200")
    form.get_by_label("Reason").fill("Lost receipt, order 5531")
    form.get_by_role("button", name="Adjust").click()
    expect(ana.get_by_test_id("flash")).to_contain_text("wait for a second staff member")
    expect(ana.get_by_test_id("pending-adjustments")).to_contain_text("Lost receipt")
    assert balance_of(shop, "c-77") == earned + 100
    ana.get_by_role("link", name="Approvals").first.click()
    expect(ana.get_by_test_id("approvals-table")).to_contain_text("You asked for this")

    bo = new_page(browser)()
    sign_in(bo, live_server, "bo@cafe.example")
    bo.goto(live_server.url("/loyalty/admin/m/shop/approvals"))
    row = bo.locator("tr", has_text="Lost receipt")
    expect(row).to_contain_text("Marta Oliveira")
    expect(row).to_contain_text("Ana Duarte")
    row.get_by_role("button", name="Approve").click()
    expect(bo.get_by_test_id("flash")).to_contain_text("approved")
    expect(bo.get_by_test_id("approvals-count")).to_have_text("Nothing waits for approval")
    assert balance_of(shop, "c-77") == earned + 1300
    ana.goto(live_server.url("/loyalty/admin/m/shop/customers?q=c-77"))
    ana.get_by_role("link", name="Marta Oliveira").click()
    expect(ana.get_by_test_id("balance-total")).to_have_text(f"{earned + 1300:,}")
    expect(ana.get_by_test_id("points-log")).to_contain_text("approved by")


def test_a_refused_form_keeps_what_was_typed(
    live_server: LiveServer, browser: Browser, shop: Session
) -> None:
    """Points that are not a whole number come back with the message at the field."""
    send_invoice_paid(live_server)
    page = new_page(browser)()
    sign_in(page, live_server, "ana@cafe.example")
    page.goto(live_server.url("/loyalty/admin/m/shop/customers?q=marta"))
    page.get_by_role("link", name="Marta Oliveira").click()
    form = page.get_by_test_id("adjust-form")
    form.get_by_label("Points", exact=True).fill("12.5")
    form.get_by_label("Reason").fill("typo")
    form.get_by_role("button", name="Adjust").click()
    form = page.get_by_test_id("adjust-form")
    expect(form.get_by_role("alert")).to_contain_text("whole points")
    expect(form.get_by_label("Points", exact=True)).to_have_value("12.5")
    expect(form.get_by_label("Reason")).to_have_value("typo")
