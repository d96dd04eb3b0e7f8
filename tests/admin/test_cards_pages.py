"""The Cards screen in Chromium: a manager generates 100 cards, gives one to a customer,
and the card's number then finds the customer."""

from __future__ import annotations

from flask import Flask
from playwright.sync_api import Page, expect

from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import Customer, StaffMember
from tests.admin.conftest import ADMIN, PASSWORD
from tests.admin.navigation import open_screen
from tests.pages.conftest import LiveServer


def sign_in(page: Page, live_server: LiveServer, staff: StaffMember) -> None:
    """Sign in through the form, as a person does."""
    page.goto(live_server.url(f"{ADMIN}/sign-in"))
    page.get_by_label("E-mail address").fill(staff.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("staff-name")).to_have_text(staff.name)


def add_customer(app: Flask, host_id: str = "42", merchant: str = "shop") -> None:
    with app.app_context():
        session = get_session()
        session.add(
            Customer(
                merchant_id=merchant,
                host_customer_id=host_id,
                first_name="Ana",
                last_name="Silva",
                email="ana@example.com",
            )
        )
        session.commit()


def generate_and_assign(page: Page, live_server: LiveServer) -> str:
    """On the Cards screen: 100 cards made, the first given to customer 42."""
    expect(page.get_by_role("heading", level=1)).to_have_text("Cards")
    form = page.get_by_test_id("generate-form")
    form.get_by_label("How many").fill("100")
    form.get_by_label("Prefix").fill("2977")
    form.get_by_role("button", name="Generate").click()
    expect(page.locator(".flash")).to_contain_text("100 cards made in batch")
    expect(page.get_by_test_id("page-of")).to_contain_text("100 in all")
    expect(page.locator("[data-card]")).to_have_count(25)
    first = page.locator("[data-card]").first
    number = first.get_attribute("data-card")
    assert number is not None and number.startswith("2977") and len(number) == 13
    first.locator("a.mono").click()
    expect(page.get_by_test_id("card-status")).to_have_text("available")
    page.get_by_label("Customer id").fill("42")
    page.get_by_role("button", name="Give the card").click()
    expect(page.locator(".flash")).to_contain_text(f"Card {number} is now customer 42's")
    expect(page.get_by_test_id("card-status")).to_have_text("assigned")
    expect(page.get_by_test_id("card-holder")).to_contain_text("Ana Silva")
    return number


def test_generate_100_cards_assign_one_and_find_the_customer_by_it(
    app: Flask, live_server: LiveServer, page: Page, staff_member
) -> None:
    manager = staff_member(role="manager", merchant="shop", password=True, name="Mia Manager")
    add_customer(app)
    sign_in(page, live_server, manager)
    page.goto(live_server.url(f"{ADMIN}/m/shop/"))
    open_screen(page, "Cards")
    number = generate_and_assign(page, live_server)
    # At the till the number is read as printed, in groups of four.
    printed = " ".join(number[i : i + 4] for i in range(0, len(number), 4))
    page.get_by_role("link", name="← Cards").click()
    page.get_by_label("Number").fill(printed)
    page.get_by_role("button", name="Show").click()
    rows = page.locator("[data-card]")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Ana Silva")
    # The customer search finds her by the card too, and leads to her page.
    open_screen(page, "Customers")
    page.get_by_test_id("customer-search").fill(printed)
    page.get_by_role("button", name="Search").click()
    found = page.locator("[data-customer]")
    expect(found).to_have_count(1)
    expect(found.first).to_have_attribute("data-customer", "42")
    expect(found.first).to_contain_text("Ana Silva")
