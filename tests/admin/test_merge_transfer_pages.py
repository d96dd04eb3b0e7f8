"""The merge and transfer pages in a real Chromium, on the served app."""

from __future__ import annotations

import pytest
from flask import Flask
from playwright.sync_api import expect
from sqlalchemy import select

from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import Account, Customer
from loyalty_plugin.services.ledger.integrity import verify_ledger
from tests.admin.browsing import accept_dialogs, make_people, signed_in_page

pytestmark = pytest.mark.backends("sqlite", "postgresql")


def balances(app: Flask) -> dict[str, int]:
    with app.app_context():
        rows = get_session().execute(
            select(Customer.host_customer_id, Account.balance).join(
                Account, Account.customer_id == Customer.id
            )
        )
        return dict(rows.all())


def test_a_manager_merges_a_duplicate_record(app, live_server, browser, admin_client) -> None:
    """Find the second record, see what moves, merge it: the points are on the kept one."""
    ids = make_people(app)
    manager = admin_client(role="manager")
    page = signed_in_page(browser, live_server.base, manager.token)
    accept_dialogs(page)
    page.goto(live_server.url(manager.m(f"/customers/{ids['1042']}/merge")))
    expect(page.get_by_role("heading", level=1)).to_have_text("Merge customers")
    page.get_by_label("Name, e-mail, phone, customer or card number").fill("ana.h@")
    page.get_by_role("button", name="Search").click()
    page.get_by_test_id("merge-candidates").get_by_role("link", name="Choose").click()
    plan = page.get_by_test_id("merge-plan")
    expect(plan).to_contain_text("Ana Horvat (2077) is merged into Ana Horvat (1042)")
    expect(page.get_by_test_id("plan-points")).to_contain_text("150 in 1 lot")
    expect(plan).to_contain_text("e-mail no")  # 2077 never opted in: the stricter wins
    page.get_by_label("Reason (optional)").fill("same person, second e-mail address")
    page.get_by_role("button", name="Merge Ana Horvat (2077) into Ana Horvat (1042)").click()
    expect(page.get_by_test_id("flash")).to_contain_text("150 points in 1 lots moved")
    assert balances(app) == {"1042": 1650, "2077": 0, "3001": 40}
    with app.app_context():
        assert verify_ledger(get_session()) == []
    page.context.close()


def test_a_manager_transfers_points_after_checking(app, live_server, browser, admin_client) -> None:
    """Fill the form, check (nothing moves), confirm: 350 points reach Ben with their dates."""
    ids = make_people(app)
    owner = admin_client(role="owner")
    page = signed_in_page(browser, live_server.base, owner.token)
    page.goto(live_server.url(owner.m(f"/transfers/new?customer_id={ids['1042']}")))
    expect(page.get_by_role("heading", level=1)).to_have_text("Transfer points")
    expect(page.get_by_label("From (customer id)")).to_have_value("1042")
    page.get_by_label("To (customer id)").fill("3001")
    page.get_by_label("Points").fill("350")
    page.get_by_label("Reason").fill("moving in together")
    page.get_by_role("button", name="Check").click()
    plan = page.get_by_test_id("transfer-plan")
    expect(plan).to_contain_text("350 points from Ana Horvat (1042) to Ben Kovač (3001)")
    expect(page.get_by_test_id("transfer-lots").locator("li")).to_have_count(2)  # 300, then 50
    assert balances(app)["3001"] == 40
    confirm = page.locator("form:has([data-testid=confirm-transfer])")
    sent = confirm.evaluate("f => Object.fromEntries(new FormData(f))")
    page.get_by_test_id("confirm-transfer").click()
    expect(page.get_by_test_id("flash")).to_contain_text("350 points moved")
    assert balances(app) == {"1042": 1150, "2077": 150, "3001": 390}
    # The same confirmation posted again (a double submit) moves nothing more.
    again = page.request.post(live_server.url(owner.m("/transfers/new")), form=sent)
    assert again.ok
    assert balances(app) == {"1042": 1150, "2077": 150, "3001": 390}
    page.context.close()


def test_too_many_points_is_shown_at_the_field(app, live_server, browser, admin_client) -> None:
    """Ben can give 40: asking for 41 shows the message at the points, the form kept."""
    ids = make_people(app)
    manager = admin_client(role="manager")
    page = signed_in_page(browser, live_server.base, manager.token)
    page.goto(live_server.url(manager.m(f"/transfers/new?customer_id={ids['3001']}")))
    page.get_by_label("To (customer id)").fill("1042")
    page.get_by_label("Points").fill("41")
    page.get_by_label("Reason").fill("a gift")
    page.get_by_role("button", name="Check").click()
    expect(page.locator("#f-points-error")).to_contain_text("only 40 are available")
    expect(page.get_by_label("Reason")).to_have_value("a gift")
    page.context.close()
