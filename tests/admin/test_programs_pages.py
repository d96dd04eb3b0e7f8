"""The Programs screen in Chromium, on the served app.

A new merchant's owner, signed in, creates a program with a per-money rule (leaving socks
out) and a per-category rule on shoes, both chosen from what the shop sent; simulates it on
the invoices the shop sent earlier by signed webhook; archives the default program and
activates the new one. Then a signed ``invoice.paid`` earns exactly what the program says.
"""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select

from loyalty_plugin.domain.signatures import signature_headers
from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import Account, Customer
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.merchants.secrets import create_secret
from tests.admin.conftest import ADMIN
from tests.admin.navigation import open_screen
from tests.admin.test_cards_pages import sign_in
from tests.browser import LiveServer

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#: Shoes 100.00, socks 20.00, a bag 30.00.
LINES = [
    {"id": "L1", "qty": 1, "total": "100.00", "product_id": "P-TRAIL", "name": "Trail shoe",
     "category_id": "shoes"},
    {"id": "L2", "qty": 2, "total": "20.00", "product_id": "P-SOCK", "name": "Wool socks",
     "category_id": "socks"},
    {"id": "L3", "qty": 1, "total": "30.00", "product_id": "P-BAG", "name": "Tote bag",
     "category_id": "bags"},
]  # fmt: skip


def send_invoice_paid(live_server: LiveServer, number: int, customer: str) -> None:
    """The shop's signed ``invoice.paid`` of :data:`LINES` for ``customer``."""
    body = json.dumps({
        "type": "invoice.paid", "merchant_id": "shop", "occurred_at": utcnow().isoformat(),
        "data": {"invoice": {"id": f"INV-{number}", "customer_id": customer, "currency": "EUR",
                             "total": "150.00", "items": LINES}},
    }).encode()  # fmt: skip
    headers = signature_headers([SECRET], msg_id=f"msg_p{number}", timestamp=int(time.time()),
                                body=body)  # fmt: skip
    request = urllib.request.Request(
        live_server.url("/loyalty/webhooks"), data=body, method="POST",
        headers=headers | {"content-type": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status in (200, 201, 202)


def shop_with_history(app: Flask, live_server: LiveServer, staff_member: Any) -> Any:
    """A new merchant's owner, and three invoices the shop sent before any program change."""
    owner = staff_member(role="owner", merchant="shop", password=True, name="Olga Owner")
    with app.app_context():
        session = get_session()
        create_secret(session, merchant_id="shop", now=utcnow(), secret=SECRET)
        session.commit()
    for number in (1, 2, 3):
        send_invoice_paid(live_server, number, f"c{number}")
    return owner


def add_rules(page: Page) -> None:
    """On a draft's page: 1 point per €1 except socks, and 2 per €1 on shoes."""
    # With no rule yet, the menu of kinds is open.
    page.get_by_role("link", name="Per money spent").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Per money spent rule")
    page.get_by_label("Points", exact=True).fill("1")
    page.get_by_label("Per amount (EUR)").fill("1")
    page.get_by_label("Rule id").fill("base")
    page.locator("#f-exclude_categories").select_option(["socks"])
    page.get_by_role("button", name="Save rule").click()
    expect(page.locator(".flash")).to_contain_text("Rule base saved.")
    page.get_by_test_id("add-rule").locator("summary").click()
    page.get_by_role("link", name="Per category").click()
    page.locator("#f-categories").select_option(["shoes"])
    page.get_by_label("Points", exact=True).fill("2")
    page.get_by_label("Per amount (EUR)").fill("1")
    page.get_by_label("Rule id").fill("shoes")
    page.get_by_role("button", name="Save rule").click()
    expect(page.locator(".flash")).to_contain_text("Rule shoes saved.")
    summaries = page.get_by_test_id("rule-summary")
    expect(summaries.nth(0)).to_have_text(
        "1 point per €1 spent, not on socks and its sub-categories"
    )
    expect(summaries.nth(1)).to_have_text("2 points per €1 on shoes and its sub-categories")


def create_program(page: Page) -> None:
    open_screen(page, "Programs")
    expect(page.get_by_role("heading", level=1)).to_have_text("Programs")
    form = page.get_by_test_id("create-form")
    form.get_by_label("Name").fill("Spring shoes")
    form.get_by_label("Key").fill("spring")
    form.get_by_role("button", name="Create draft").click()
    expect(page.get_by_test_id("program-status")).to_have_text("draft")
    add_rules(page)


def balance_of(app: Flask, host_id: str) -> int:
    with app.app_context():
        session = get_session()
        found = session.scalar(
            select(Account.balance).join(Customer).where(Customer.host_customer_id == host_id)
        )
        return found or 0


def test_an_owner_sets_a_program_up_simulates_it_and_it_earns(
    app: Flask, live_server: LiveServer, page: Page, staff_member
) -> None:
    owner = shop_with_history(app, live_server, staff_member)
    sign_in(page, live_server, owner)
    page.goto(live_server.url(f"{ADMIN}/m/shop/"))
    create_program(page)
    # Per invoice: 130 (1 per €1 on all but socks) + 200 (2 per €1 on shoes) = 330.
    page.get_by_test_id("simulate-link").click()
    page.get_by_label("Last invoices").fill("10")
    page.get_by_role("button", name="Simulate").click()
    result = page.get_by_test_id("simulation")
    expect(result.get_by_role("heading")).to_have_text("On 3 paid invoices")
    expect(page.get_by_test_id("draft-points")).to_contain_text("990")
    expect(page.get_by_test_id("difference-points")).to_contain_text("+990")
    expect(page.locator('[data-testid="per-rule"] tr[data-rule="shoes"] td').nth(1)).to_have_text(
        "600"
    )
    # The default program goes, the new one comes.
    page.get_by_role("link", name="← Spring shoes").click()
    page.get_by_role("link", name="← Programs").click()
    page.locator('[data-program="default"] a').click()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("archive-form").get_by_role("button", name="Archive").click()
    expect(page.get_by_test_id("program-status")).to_have_text("archived")
    page.goto(live_server.url(f"{ADMIN}/m/shop/programs/spring"))
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("activate-form").get_by_role("button", name="Activate").click()
    expect(page.get_by_test_id("program-status")).to_have_text("active")
    send_invoice_paid(live_server, 4, "c-new")
    assert balance_of(app, "c-new") == 330
    page.get_by_role("link", name="← Programs").click()
    row = page.locator('[data-program="spring"]')
    expect(row.locator(".p-points")).to_have_text("330")
    expect(row.locator(".p-customers")).to_have_text("1")
