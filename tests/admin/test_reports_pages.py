"""The report pages in Chromium: read the dashboard and the aging report, export the journal.

Signed in through the sign-in form as a staff member (the lowest role) of the known shop
(tests/reports/data.py). The charts must be drawn under the pages' CSP, from their tables.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty_plugin.database import engine_options
from loyalty_plugin.models import Customer
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.ledger.accounts import open_account
from tests.admin.conftest import PASSWORD
from tests.admin.navigation import open_screen
from tests.pages.conftest import LiveServer
from tests.reports.data import build_on

#: Browser tests run on two backends; the services under them run on all three elsewhere.
pytestmark = pytest.mark.backends("sqlite", "postgresql")
ADMIN = "/loyalty/admin"


@pytest.fixture
def signed_in(app, database_url, staff_member, live_server, page) -> Page:
    """The browser, signed in as Sam (staff) of the known shop; CSP reports are failures."""
    build_on(database_url)
    staff_member(role="staff", email="sam@example.com", name="Sam Clerk", password=True)
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text)
            if "Content Security Policy" in message.text else None)  # fmt: skip
    page.goto(live_server.url(f"{ADMIN}/sign-in"))
    page.get_by_label("E-mail address").fill("sam@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("staff-name")).to_have_text("Sam Clerk")
    yield page
    assert refused == []


def test_reading_the_dashboard(signed_in: Page, live_server: LiveServer) -> None:
    """The period is chosen in the form and kept in the URL; charts drawn beside tables."""
    tab = signed_in
    tab.goto(live_server.url(f"{ADMIN}/m/shop/"))
    expect(tab.get_by_role("heading", level=1)).to_have_text("Dashboard")
    tab.get_by_label("From", exact=True).fill("2026-03-23")
    tab.get_by_label("To", exact=True).fill("2026-04-05")
    tab.get_by_role("button", name="Show").click()
    assert "from=2026-03-23&to=2026-04-05" in tab.url
    expect(tab.get_by_test_id("kpi-issued")).to_have_text("1,550")
    expect(tab.get_by_test_id("kpi-redeemed")).to_have_text("300")
    weeks = tab.get_by_test_id("weeks-table").locator("tbody tr")
    expect(weeks).to_have_count(2)
    expect(weeks.nth(1)).to_contain_text("500")
    chart = tab.locator('canvas[data-table="weeks-table"]')
    expect(chart).to_have_attribute("data-drawn", "true")
    expect(tab.get_by_test_id("repeat-table")).to_contain_text("50%")
    expect(tab.get_by_test_id("top-table").locator("tbody tr").first).to_contain_text("Ana Ruiz")


def give_store_credit(database_url: str) -> None:
    """Store credit (#19) for Ana and Ben in euros, Cat in dollars: committed."""
    plain = sa.create_engine(database_url, **engine_options(database_url))
    with Session(plain) as db:
        rows = db.execute(select(Customer.host_customer_id, Customer.id))
        holders = {host: customer_id for host, customer_id in rows}
        for who, unit, cents in (("ana", "EUR", 1234), ("ben", "EUR", 500), ("cat", "USD", 350)):
            account = open_account(db, merchant_id="shop", customer_id=holders[who], unit=unit)
            ledger.earn(db, account_id=account.id, points=cents, now=utcnow(), actor="t")
        db.commit()
    plain.dispose()


def test_the_dashboard_shows_store_credit_apart_from_points(
    signed_in: Page, live_server: LiveServer, database_url: str
) -> None:
    """Outstanding credit per currency in money beside the points liability; a points-only
    merchant sees no credit table (#19)."""
    tab = signed_in
    tab.goto(live_server.url(f"{ADMIN}/m/shop/"))
    expect(tab.get_by_test_id("liability-table")).to_be_visible()
    expect(tab.get_by_test_id("credit-table")).to_have_count(0)
    give_store_credit(database_url)
    tab.reload()
    rows = tab.get_by_test_id("credit-table").locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("EUR")
    expect(rows.nth(0).get_by_role("cell").last).to_have_text("€17.34")
    expect(rows.nth(1)).to_contain_text("USD")
    expect(rows.nth(1).get_by_role("cell").last).to_contain_text("$3.50")
    liability = tab.get_by_test_id("liability-table").locator("tbody tr")
    expect(liability).to_have_count(1)
    expect(liability.first).not_to_contain_text("17.34")


def test_reading_the_aging_report(signed_in: Page, live_server: LiveServer) -> None:
    """From the nav: totals by age band, then one row per customer."""
    tab = signed_in
    tab.goto(live_server.url(f"{ADMIN}/m/shop/"))
    open_screen(tab, "Aging")
    expect(tab.get_by_role("heading", level=1)).to_have_text("Aging")
    expect(tab.locator('canvas[data-table="bands-table"]')).to_have_attribute("data-drawn", "true")
    total = tab.get_by_test_id("aging-total")
    expect(total).not_to_have_text("0")
    tab.get_by_role("navigation", name="One row per").get_by_role(
        "link", name="Customer", exact=True
    ).click()
    rows = tab.get_by_test_id("aging-table").locator("tbody tr")
    # Their lots that never expire keep Cat (500) and Ana (250) open whatever the date.
    expect(rows.filter(has_text="Cat Vidal")).to_contain_text("500")
    expect(rows.filter(has_text="Ana Ruiz")).to_have_count(1)
    assert "by=customer" in tab.url


def test_exporting_the_journal(
    signed_in: Page,
    live_server: LiveServer,
    tmp_path: Path,
) -> None:
    """Filter Ana's entries, download them: the CSV holds exactly those rows."""
    tab = signed_in
    tab.goto(live_server.url(f"{ADMIN}/m/shop/journal"))
    tab.get_by_label("Customer ID").fill("ana")
    tab.get_by_role("button", name="Filter").click()
    expect(tab.get_by_test_id("journal-table").locator("tbody tr")).to_have_count(5)
    with tab.expect_download() as download:
        tab.get_by_test_id("journal-csv").click()
    saved = tmp_path / "journal.csv"
    download.value.save_as(saved)
    assert download.value.suggested_filename == "journal.csv"
    with saved.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["kind"], r["points"], r["customer_id"]) for r in rows] == [
        ("adjust", "-20", "ana"), ("adjust", "50", "ana"), ("redeem", "-300", "ana"),
        ("earn", "1000", "ana"), ("earn", "200", "ana"),
    ]  # fmt: skip
