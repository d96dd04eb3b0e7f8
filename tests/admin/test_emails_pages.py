"""The E-mail templates screen in Chromium: a manager edits the expiry reminder with a
mistake, sees its line, fixes it, previews it and sends a test to a real SMTP server
(aiosmtpd), whose received message is checked. Screenshots at desktop and phone width
(``make screenshots``: ``docs/screenshots/admin-email*.png``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import Customer, EmailTemplate
from tests.admin.conftest import ensure_merchant
from tests.admin.navigation import open_screen
from tests.admin.test_cards_pages import sign_in
from tests.admin.test_emails_views import inbox  # noqa: F401
from tests.email.conftest import Inbox
from tests.pages.conftest import LiveServer
from tests.pages.test_screenshots import WIDTHS, at_width, look, shots  # noqa: F401

MISTAKE = "{{ days_left } days left"
FIXED = "{{ points|number }} of your points"


def a_customer(app: Flask) -> int:
    """Shop's customer Zoé Martin, whose data the preview can use."""
    with app.app_context():
        session = get_session()
        ensure_merchant("shop")
        customer = Customer(merchant_id="shop", host_customer_id="77", first_name="Zoé",
                            last_name="Martin", email="zoe@example.com")  # fmt: skip
        session.add(customer)
        session.commit()
        return customer.id


def open_expiry_reminder(page: Page) -> None:
    open_screen(page, "E-mails")
    expect(page.get_by_role("heading", level=1)).to_have_text("E-mail templates")
    page.get_by_role("link", name="points_expiring").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("points_expiring")


def edit_with_a_mistake_then_fix(page: Page, customer_id: int) -> None:
    text = page.get_by_label("Text part")
    original = text.input_value()
    text.fill(original.replace("{% set when %}", MISTAKE + "{% set when %}", 1))
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#f-body_text-error")).to_have_text("Line 3: unexpected '}'.")
    assert MISTAKE in page.get_by_label("Text part").input_value()  # what was typed stays
    page.get_by_label("Text part").fill(
        original.replace('_("Hi %(name)s,"', '_("Hello %(name)s,"', 1)
    )
    page.get_by_label("Preview with customer number").fill(str(customer_id))
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_test_id("preview-text")).to_contain_text("Hello Zoé,")
    frame = page.frame_locator("[data-testid=preview-frame]")
    expect(frame.get_by_text("Hi Zoé,")).to_be_visible()  # the HTML part, unchanged
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".flash")).to_contain_text("Template saved")


def test_a_manager_fixes_previews_and_test_sends_the_expiry_reminder(
    app: Flask,
    live_server: LiveServer,
    page: Page,
    staff_member,
    inbox: Inbox,  # noqa: F811
) -> None:
    customer_id = a_customer(app)
    manager = staff_member(role="manager", merchant="shop", password=True, name="Mia Manager")
    sign_in(page, live_server, manager)
    page.goto(live_server.url("/loyalty/admin/m/shop/"))
    open_expiry_reminder(page)
    edit_with_a_mistake_then_fix(page, customer_id)
    with app.app_context():
        saved = get_session().scalars(select(EmailTemplate)).one()
    assert saved.name == "points_expiring"
    assert saved.body_text.startswith('{{ _("Hello %(name)s,", name=customer.first_name) }}')
    expect(page.get_by_test_id("preview-text")).to_contain_text("Hello Ana,")  # made-up
    page.get_by_label("Send to").fill("qa@example.com")
    page.get_by_role("button", name="Send test e-mail").click()
    expect(page.locator(".flash")).to_contain_text("Test e-mail sent to qa@example.com")
    (message,) = inbox.messages
    assert message["To"] == "qa@example.com"
    assert message["Subject"].startswith("[Test] Your ")
    assert message.get_body(("plain",)).get_content().startswith("Hello Ana,")
    assert "Hi Ana," in message.get_body(("html",)).get_content()


@pytest.mark.backends("sqlite")
@pytest.mark.parametrize("width", WIDTHS)
def test_the_email_pages_fit_the_screen(
    width: str,
    app: Flask,
    live_server: LiveServer,
    browser: Browser,
    staff_member,
    shots: Path,  # noqa: F811
) -> None:
    customer_id = a_customer(app)
    manager = staff_member(role="manager", merchant="shop", password=True, name="Mia Manager")
    page = at_width(browser, width)()
    sign_in(page, live_server, manager)
    page.goto(live_server.url("/loyalty/admin/m/shop/"))
    open_expiry_reminder(page)
    edit_with_a_mistake_then_fix(page, customer_id)
    page.get_by_role("link", name="← E-mail templates").click()
    look(page, shots, f"admin-emails-{width}", "E-mail templates")
    page.get_by_role("link", name="points_expiring").click()
    frame = page.frame_locator("[data-testid=preview-frame]")
    expect(frame.get_by_text("Hi Ana,")).to_be_visible()
    look(page, shots, f"admin-email-edit-{width}", "points_expiring")
    # A full-page picture leaves the sandboxed frame (another process) blank: the preview
    # is pictured as the screen shows it.
    page.get_by_test_id("preview").scroll_into_view_if_needed()
    page.get_by_test_id("preview-frame").scroll_into_view_if_needed()
    page.screenshot(path=str(shots / f"admin-email-preview-{width}.png"))
    text = page.get_by_label("Text part")
    text.fill(text.input_value().replace("links.portal", "links.shop"))
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#f-body_text-error")).to_be_visible()
    look(page, shots, f"admin-email-error-{width}", "points_expiring")
