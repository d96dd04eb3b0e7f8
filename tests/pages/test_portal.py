"""The customer portal in a real Chromium: reading points, paging, converting, bad links.

The browser talks to the app served by ``live_server``; the test's own session writes the
story and checks the database. It commits (or rolls back) after every read, so that on
SQLite it never holds the write lock while the browser is waiting for the server.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta

import pytest
from babel.dates import format_date
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.notifications import NotificationPrefs
from loyalty_plugin.models import Account, Coupon, Customer, LedgerEntry, Merchant
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.customers import portal
from loyalty_plugin.services.earning.programs import create_program
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.ledger.entries import Reference
from loyalty_plugin.services.messaging.notifications import set_notification_prefs
from loyalty_plugin.services.spending.settings import update_settings
from tests.browser import LiveServer

#: Browser tests run on two backends; the services under them run on all three elsewhere.
BROWSER_BACKENDS = pytest.mark.backends("sqlite", "postgresql")

TIERS = [
    {"key": "bronze", "name": "Bronze", "threshold": "0"},
    {"key": "silver", "name": "Silver", "threshold": "2000", "multiplier": "1.5",
     "discounts": [{"percent": "10", "categories": ["shoes"]}]},
]  # fmt: skip


@pytest.fixture
def ana(session: Session) -> Account:
    """Ana of Café Lumière (Tokyo time), with an account."""
    session.add(Merchant(id="shop", name="Café Lumière", currency="EUR", timezone="Asia/Tokyo"))
    session.flush()
    customer = Customer(merchant_id="shop", host_customer_id="42", first_name="Ana")
    session.add(customer)
    session.flush()
    account = Account(merchant_id="shop", customer_id=customer.id)
    session.add(account)
    session.commit()
    return account


def earn(session: Session, account: Account, points: int, **more: object) -> None:
    ledger.earn(session, account_id=account.id, points=points, now=utcnow(), actor="t", **more)
    session.commit()


def settings(session: Session, **changes: object) -> None:
    update_settings(session, merchant_id="shop", changes=changes, now=utcnow(), actor="t")
    session.commit()


def balance_and_coupons(session: Session, account: Account) -> tuple[int, int]:
    """The balance and the number of coupons, read and released at once."""
    session.expire_all()
    found = (
        session.get(Account, account.id).balance,
        session.scalar(select(func.count()).select_from(Coupon)),
    )
    session.commit()
    return found


def sign_in(page: Page, app: Flask, live_server: LiveServer, account: Account, **kw) -> None:
    """Open the portal with a link, as from an e-mail."""
    expires_at = kw.get("expires_at", utcnow() + timedelta(days=1))
    token = portal.make_token(
        app.config["LOYALTY_SECRET_KEY"],
        merchant_id="shop",
        customer_id=account.customer_id,
        expires_at=expires_at,
    )
    page.goto(live_server.url(f"/loyalty/portal/link/{token}"))


@BROWSER_BACKENDS
def test_overview_in_the_merchants_locale_and_zone(
    app: Flask, live_server: LiveServer, page: Page, session: Session, ana: Account
) -> None:
    """Balance, expiring points (a Tokyo date), level and what is still needed, in German:
    the merchant's locale sets the words as well as the numbers (docs/portal.md#languages)."""
    set_notification_prefs(
        session, merchant_id="shop", prefs=NotificationPrefs(locale="de_DE"), now=utcnow(),
        actor="t",
    )  # fmt: skip
    create_program(
        session, merchant_id="shop", now=utcnow() - timedelta(days=1), actor="t",
        definition={"key": "main", "name": "Main", "status": "active",
                    "rules": [{"kind": "per_amount", "points": "1", "per": "1"}],
                    "levels": {"tiers": TIERS, "measure": "points"}},
    )  # fmt: skip
    session.commit()
    day = (utcnow() + timedelta(days=10)).date()
    expires = datetime.combine(day, time(20, 0), tzinfo=UTC)  # the next day in Tokyo
    earn(session, ana, 1200, expires_at=expires, reference=Reference("invoice", "INV-7"))
    earn(session, ana, 50)
    sign_in(page, app, live_server, ana)
    expect(page).to_have_url(re.compile(r"/loyalty/portal$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Hallo Ana")
    expect(page.get_by_test_id("balance")).to_have_text("1.250")
    tokyo_day = format_date(day + timedelta(days=1), format="long", locale="de_DE")
    expiring = page.get_by_test_id("expiring")
    expect(expiring).to_contain_text(f"1.200 Punkte verfallen am {tokyo_day}")
    expect(page.get_by_test_id("level")).to_have_text("Bronze")
    expect(page.get_by_test_id("needed")).to_contain_text("Noch 750 Punkte bis Silver")
    expect(page.locator("progress")).to_have_attribute("value", "62")
    expect(page.get_by_role("table")).to_contain_text("Rechnung INV-7")
    assert page.locator("html").get_attribute("lang") == "de-DE"


@BROWSER_BACKENDS
def test_points_log_is_paginated_newest_first(
    app: Flask, live_server: LiveServer, page: Page, session: Session, ana: Account
) -> None:
    """25 entries: 20 on the first page, the 5 oldest after "Older"."""
    for n in range(1, 26):
        earn(session, ana, n, reference=Reference("invoice", f"order-{n}"))
    sign_in(page, app, live_server, ana)
    page.get_by_role("link", name="Points history", exact=True).click()
    rows = page.locator("table.log tbody tr")
    expect(rows).to_have_count(20)
    expect(rows.first).to_contain_text("Invoice order-25")
    expect(page.get_by_test_id("page-of")).to_have_text("Page 1 of 2")
    page.get_by_role("link", name="Older →").click()
    expect(rows).to_have_count(5)
    expect(rows.last).to_contain_text("Invoice order-1")
    expect(rows.last).to_contain_text("+1")
    expect(page.get_by_test_id("page-of")).to_have_text("Page 2 of 2")


@BROWSER_BACKENDS
def test_turning_points_into_a_coupon(
    app: Flask, live_server: LiveServer, page: Page, session: Session, ana: Account
) -> None:
    """500 points become a €5.00 coupon; the code and the new balance are shown."""
    earn(session, ana, 1200)
    sign_in(page, app, live_server, ana)
    page.get_by_role("link", name="Turn points into a coupon").click()
    page.get_by_label("Points to use").fill("500")
    page.get_by_role("button", name="Get my coupon").click()
    expect(page.get_by_test_id("created")).to_contain_text("€5.00")
    code = page.get_by_test_id("created-code").inner_text()
    assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", code)
    expect(page.get_by_test_id("new-balance")).to_have_text("700")
    expect(page.get_by_test_id("coupons-active")).to_contain_text(code)
    assert balance_and_coupons(session, ana) == (700, 1)


@pytest.mark.parametrize(
    ("changes", "typed", "message"),
    [
        ({}, "five hundred", "Enter the points as a whole number."),
        ({"coupon_min_points": 300}, "200", "At least 300 points are needed."),
        ({}, "5000", "You do not have enough points: you asked for 5,000 and have 1,200"),
        ({}, "0", "Points must not be zero."),
    ],
)
@BROWSER_BACKENDS
def test_invalid_amounts_show_the_form_again_and_spend_nothing(
    app: Flask,
    live_server: LiveServer,
    page: Page,
    session: Session,
    ana: Account,
    changes: dict,
    typed: str,
    message: str,
) -> None:
    """A refused amount re-renders the form with the reason and the value typed."""
    earn(session, ana, 1200)
    settings(session, **changes)
    sign_in(page, app, live_server, ana)
    page.goto(live_server.url("/loyalty/portal/coupons"))
    page.get_by_label("Points to use").fill(typed)
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Get my coupon").click()
    assert posted.value.status == 422
    expect(page.get_by_role("alert")).to_contain_text(message)
    field = page.get_by_label("Points to use")
    expect(field).to_have_value(typed)
    expect(field).to_have_attribute("aria-invalid", "true")
    assert balance_and_coupons(session, ana) == (1200, 0)


@BROWSER_BACKENDS
def test_submitting_one_form_twice_spends_once(
    app: Flask, live_server: LiveServer, page: Page, session: Session, ana: Account
) -> None:
    """The same form posted twice at once (and once more after) gives one coupon."""
    earn(session, ana, 1200)
    sign_in(page, app, live_server, ana)
    page.goto(live_server.url("/loyalty/portal/coupons"))
    page.get_by_label("Points to use").fill("400")
    statuses = page.evaluate(
        """async () => {
            const form = document.querySelector("form.convert");
            const post = () => fetch(form.action, {method: "POST", body: new FormData(form)});
            const answers = await Promise.all([post(), post()]);
            answers.push(await post());
            return answers.map(a => [a.status, a.url]);
        }"""
    )
    assert [status for status, _url in statuses] == [200, 200, 200]
    assert len({url for _status, url in statuses}) == 1  # all redirected to the same coupon
    assert balance_and_coupons(session, ana) == (800, 1)
    page.goto(statuses[0][1])
    expect(page.get_by_test_id("new-balance")).to_have_text("800")


@BROWSER_BACKENDS
def test_the_form_is_hidden_when_the_merchant_does_not_allow_it(
    app: Flask, live_server: LiveServer, page: Page, session: Session, ana: Account
) -> None:
    """Without coupon conversion the coupons page lists coupons and offers no form."""
    earn(session, ana, 1200)
    settings(session, coupon_conversion=False)
    sign_in(page, app, live_server, ana)
    expect(page.get_by_role("link", name="Turn points into a coupon")).to_have_count(0)
    page.get_by_role("link", name="Coupons").click()
    expect(page.get_by_role("heading", name="Ready to use")).to_be_visible()
    expect(page.locator("form.convert")).to_have_count(0)


@BROWSER_BACKENDS
def test_expired_and_forged_links_show_a_friendly_page(
    app: Flask, live_server: LiveServer, page: Page, session: Session, ana: Account
) -> None:
    """An expired link says so (410); a forged one is not valid (404); neither lets in."""
    with page.expect_response(re.compile("/portal/link/")) as answer:
        sign_in(page, app, live_server, ana, expires_at=utcnow() - timedelta(minutes=1))
    assert answer.value.status == 410
    expect(page.get_by_role("heading", level=1)).to_have_text("This link has expired")
    expect(page.get_by_role("button", name="E-mail me a new link")).to_be_visible()
    answer = page.goto(live_server.url("/loyalty/portal/link/WyJzaG9wIiwxLDk5OTk5OTk5OTld.x"))
    assert answer.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("This link does not work")
    answer = page.goto(live_server.url("/loyalty/portal"))
    assert answer.status == 403
    expect(page.locator("body")).not_to_contain_text("Traceback")


@BROWSER_BACKENDS
def test_signing_out_forgets_the_customer(
    app: Flask, live_server: LiveServer, page: Page, session: Session, ana: Account
) -> None:
    """After "Sign out" the portal asks for a link again."""
    sign_in(page, app, live_server, ana)
    page.get_by_role("button", name="Sign out on this device").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("You are signed out")
    assert page.goto(live_server.url("/loyalty/portal")).status == 403


@BROWSER_BACKENDS
def test_entries_of_other_kinds_have_labels(
    app: Flask, live_server: LiveServer, page: Page, session: Session, ana: Account
) -> None:
    """A coupon bought and an adjustment read as words, not codes."""
    earn(session, ana, 1200)
    ledger.adjust(session, account_id=ana.id, points=-100, now=utcnow(), actor="staff",
                  reason="goodwill correction")  # fmt: skip
    session.commit()
    sign_in(page, app, live_server, ana)
    page.get_by_role("link", name="Points history", exact=True).click()
    table = page.locator("table.log")
    expect(table).to_contain_text("Adjustment by our team")
    expect(table).to_contain_text("goodwill correction")
    expect(table).to_contain_text("\u2212100")  # a minus sign
    assert session.scalar(select(func.count()).select_from(LedgerEntry)) == 2
    session.commit()


@BROWSER_BACKENDS
def test_a_gold_member_reads_which_point_value_applies_where(
    app: Flask, live_server: LiveServer, page: Page, session: Session, ana: Account
) -> None:
    """#17: Gold's 100 points = €1.50 is for paying at checkout; the coupon form's €1.00 not."""
    gold = {
        "key": "gold",
        "name": "Gold",
        "threshold": "0",
        "point_value": {"points": 100, "amount": "1.50"},
    }
    create_program(
        session, merchant_id="shop", now=utcnow() - timedelta(days=1), actor="t",
        definition={"key": "main", "name": "Main", "status": "active",
                    "rules": [{"kind": "per_amount", "points": "1", "per": "1"}],
                    "levels": {"tiers": [gold], "measure": "points"}},
    )  # fmt: skip
    session.commit()
    earn(session, ana, 500)
    sign_in(page, app, live_server, ana)
    expect(page.get_by_test_id("level")).to_have_text("Gold")
    expect(page.locator(".benefits")).to_contain_text(
        "When you pay with points at checkout, 100 points are worth €1.50"
    )
    page.get_by_role("link", name="Coupons", exact=True).click()
    expect(page.locator("#main")).to_contain_text("100 points give €1.00 off as a coupon.")
    expect(page.get_by_test_id("checkout-value")).to_have_text(
        "This rate is for coupons. When you pay with points at checkout instead, your Gold"
        " level makes 100 points worth €1.50."
    )
