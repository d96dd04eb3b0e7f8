"""The admin pages in a real Chromium, on the served app: getting in and getting out."""

from __future__ import annotations

import json
import urllib.request

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect

from loyalty_plugin.extensions import get_session
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.merchants.api_keys import create_api_key
from tests.admin.conftest import PASSWORD, ensure_merchant
from tests.pages.conftest import LiveServer

pytestmark = pytest.mark.backends("sqlite", "postgresql")


def host_asks_for_a_link(app: Flask, live_server: LiveServer, body: dict) -> str:
    """What a CRM does: make an admin key, then POST /admin-links over HTTP."""
    with app.app_context():
        ensure_merchant("shop")
        session = get_session()
        _, key = create_api_key(
            session, merchant_id="shop", scope="admin", name="crm", now=utcnow()
        )
        session.commit()
    request = urllib.request.Request(
        live_server.url("/loyalty/api/v1/admin-links"),
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.load(answer)["url"]


def test_an_admin_link_from_the_host_lands_signed_in(
    app: Flask, live_server: LiveServer, browser: Browser, page: Page
) -> None:
    """The host's link opens the merchant's pages signed in; the same link again is refused."""
    url = host_asks_for_a_link(
        app, live_server,
        {"host_user_id": "17", "name": "Ana Lopez", "email": "ana@shop.example", "role": "owner"},
    )  # fmt: skip
    page.goto(url)
    expect(page.get_by_test_id("merchant-name")).to_have_text("Shop")
    expect(page.get_by_test_id("staff-name")).to_have_text("Ana Lopez")
    expect(page.get_by_test_id("staff-role")).to_have_text("owner")
    assert "/link/" not in page.url
    again = browser.new_context().new_page()
    answer = again.goto(url)
    assert answer is not None and answer.status == 410
    expect(again.get_by_role("heading", level=1)).to_have_text("This link was already used")
    again.context.close()


def test_sign_in_with_a_password_and_choose_the_merchant(
    app: Flask, live_server: LiveServer, page: Page, staff_member
) -> None:
    """A local account signs in, sees its merchants, and opens one."""
    staff = staff_member(role="owner", password=True, name="Olga Owner")
    staff_member(role="staff", merchant="cafe", email=staff.email)
    page.goto(live_server.url("/loyalty/admin/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    page.get_by_label("E-mail address").fill(staff.email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("The e-mail address or the password")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Choose a merchant")
    page.get_by_role("link", name="Shop").click()
    expect(page.get_by_test_id("merchant-name")).to_have_text("Shop")
    expect(
        page.get_by_role("navigation", name="Sections").get_by_role("link", name="Integration")
    ).to_be_visible()


def test_sign_out_everywhere_signs_out_the_other_browser(
    app: Flask, live_server: LiveServer, browser: Browser, page: Page, staff_member
) -> None:
    """ "Sign out everywhere" on one browser ends the session of another."""
    staff = staff_member(role="manager", password=True)
    other = browser.new_context().new_page()
    for tab in (page, other):
        tab.goto(live_server.url("/loyalty/admin/sign-in"))
        tab.get_by_label("E-mail address").fill(staff.email)
        tab.get_by_label("Password").fill(PASSWORD)
        tab.get_by_role("button", name="Sign in").click()
        expect(tab.get_by_role("heading", level=1)).to_have_text("Choose a merchant")
    page.goto(live_server.url("/loyalty/admin/sessions"))
    expect(page.get_by_test_id("sessions").locator("tbody tr")).to_have_count(2)
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Sign out everywhere").click()
    expect(page.get_by_test_id("notice")).to_have_text("You are signed out on every device.")
    other.reload()
    expect(other.get_by_role("heading", level=1)).to_have_text("Sign in")
    other.context.close()
