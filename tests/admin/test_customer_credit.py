"""Store credit on the admin customer page (#19): apart from points, in money, per currency,
with its latest entries; a points-only customer's page shows no credit at all.

The credit is earned by a cashback rule on a paid invoice, taken back by a refund and
expired by the set-based job, so the entries shown are the ones the ledger writes.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy.orm import Session

from loyalty_plugin.domain.earning import InvoiceFacts, LineItem
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.earning import awards
from loyalty_plugin.services.earning.programs import archive_program, create_program
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.ledger.accounts import open_account, upsert_customer
from loyalty_plugin.services.ledger.expiry import expire_due_batch
from loyalty_plugin.services.spending.settings import update_settings
from tests.admin.test_desk_pages import shop, sign_in  # noqa: F401 (shop: a fixture)
from tests.browser import LiveServer
from tests.pages.test_screenshots import WIDTHS, at_width, look, shots  # noqa: F401 (shots)

CASHBACK = [
    {"kind": "per_amount", "points": "1", "per": "1"},
    {"id": "cashback", "kind": "per_amount", "points": "0", "per": "1",
     "reward": {"credit_percent": "5", "instead_of_points": True}},
]  # fmt: skip


def credit_story(session: Session) -> tuple[int, int]:
    """Marta: €4.20 that expired yesterday, then 5% back on 250.00 (€12.50) and 250 points;
    Jonas: 250 points given, no credit. Returns both customers' ids."""
    now = utcnow()
    archive_program(session, merchant_id="shop", key="default", now=now - timedelta(days=90))
    create_program(
        session, merchant_id="shop", now=now - timedelta(days=90), actor="test",
        definition={"key": "main", "name": "Cashback", "status": "active", "rules": CASHBACK},
    )  # fmt: skip
    update_settings(session, merchant_id="shop", changes={"credit_currencies": ["EUR"]},
                    now=now, actor="test")  # fmt: skip
    marta = upsert_customer(session, merchant_id="shop", host_customer_id="c1",
                            first_name="Marta", last_name="Oliveira")  # fmt: skip
    jonas = upsert_customer(session, merchant_id="shop", host_customer_id="c2",
                            first_name="Jonas", last_name="Becker")  # fmt: skip
    credit = open_account(session, merchant_id="shop", customer_id=marta.id, unit="EUR")
    ledger.earn(session, account_id=credit.id, points=420, now=now - timedelta(days=40),
                actor="t", expires_at=now - timedelta(days=1))  # fmt: skip
    facts = InvoiceFacts(
        id="9001", number="INV-2026-9001", customer_id="c1", currency="EUR",
        total=D("250.00"), items=(LineItem(id="L1", qty=D(1), total=D("250.00")),),
    )  # fmt: skip
    awards.earn_with_programs(session, merchant_id="shop", customer=marta, facts=facts,
                              hooks=None, now=now)  # fmt: skip
    points = open_account(session, merchant_id="shop", customer_id=jonas.id)
    ledger.earn(session, account_id=points.id, points=250, now=now, actor="t")
    expire_due_batch(session, now=now, merchant_id="shop")
    session.commit()
    return marta.id, jonas.id


@pytest.mark.backends("sqlite", "postgresql")
def test_the_customer_page_shows_store_credit_apart_from_points(
    shop: Session,  # noqa: F811
    live_server: LiveServer,
    browser: Browser,
) -> None:
    marta, jonas = credit_story(shop)
    page = at_width(browser, "desktop")()
    sign_in(page, live_server, "ana@cafe.example")
    page.goto(live_server.url(f"/loyalty/admin/m/shop/customers/{marta}"))
    expect(page.get_by_test_id("balance-total")).to_have_text("250")
    card = page.get_by_test_id("credit-EUR")
    expect(card.get_by_test_id("credit-balance-EUR")).to_have_text("€12.50")
    expect(card).to_contain_text("€16.70 earned")
    expect(card).to_contain_text("€4.20 expired")
    rows = card.locator("tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("Store credit expired")
    expect(rows.nth(0)).to_contain_text("\u2212€4.20")  # the minus sign the admin writes
    expect(rows.nth(1)).to_contain_text("Store credit earned")
    expect(rows.nth(1)).to_contain_text("+€12.50")
    expect(rows.nth(1)).to_contain_text("Invoice 9001")
    page.goto(live_server.url(f"/loyalty/admin/m/shop/customers/{jonas}"))
    expect(page.get_by_test_id("balance-total")).to_have_text("250")
    expect(page.locator("[data-testid^=credit-]")).to_have_count(0)


@pytest.mark.backends("sqlite")
@pytest.mark.parametrize("width", WIDTHS)
def test_the_credit_card_fits_the_screen(
    width: str,
    shop: Session,  # noqa: F811
    live_server: LiveServer,
    browser: Browser,
    shots: Path,  # noqa: F811
) -> None:
    marta, _jonas = credit_story(shop)
    page = at_width(browser, width)()
    sign_in(page, live_server, "ana@cafe.example")
    page.goto(live_server.url(f"/loyalty/admin/m/shop/customers/{marta}"))
    card = page.get_by_test_id("credit-EUR")
    card.scroll_into_view_if_needed()
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow} px wider than the screen"
    look(page, shots, f"admin-customer-credit-{width}", "Marta Oliveira")
