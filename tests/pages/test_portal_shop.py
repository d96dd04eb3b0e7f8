"""Buying a reward and a membership in a real Chromium, checked against the API and ledger."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.coupons import CouponKind, CouponValue
from loyalty_plugin.models import Account, Coupon
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.earning.programs import create_program
from loyalty_plugin.services.ledger.integrity import verify_ledger
from loyalty_plugin.services.merchants.api_keys import create_api_key
from loyalty_plugin.services.spending.rewards import create_reward
from tests.browser import LiveServer
from tests.pages.test_portal import BROWSER_BACKENDS, ana, earn, sign_in  # noqa: F401

API = "/loyalty/api/v1"
SHOP_TIERS = [
    {"key": "bronze", "name": "Bronze", "threshold": "0"},
    {"key": "silver", "name": "Silver", "threshold": "2000", "multiplier": "1.5",
     "price_points": 500, "duration_days": 30},
    {"key": "gold", "name": "Gold", "threshold": "5000", "multiplier": "2",
     "discounts": [{"percent": "10", "categories": ["shoes"]}],
     "price_points": 1500, "duration_days": 90},
]  # fmt: skip


def add_rewards(session: Session) -> dict[str, int]:
    """A €5 voucher (300 points, 3 in stock, twice each), a mug (5,000), a sold-out tote."""
    made = {}
    for name, points, value, more in (
        ("€5 voucher", 300, CouponValue(kind=CouponKind.AMOUNT, amount=Decimal(5),
         currency="EUR"), {"stock": 3, "per_customer_limit": 2, "coupon_valid_days": 60}),
        ("Café Lumière mug", 5000, CouponValue(kind=CouponKind.PRODUCT, product_ids=("mug",)),
         {"description": "Our white porcelain mug, to collect in the shop."}),
        ("Tote bag", 100, CouponValue(kind=CouponKind.PERCENT, percent=Decimal(10)),
         {"stock": 0}),
    ):  # fmt: skip
        made[name] = create_reward(
            session, merchant_id="shop", name=name, points=points, value=value, now=utcnow(),
            **more,
        ).id  # fmt: skip
    session.commit()
    return made


def add_levels(session: Session) -> None:
    create_program(
        session, merchant_id="shop", now=utcnow() - timedelta(days=1), actor="t",
        definition={"key": "main", "name": "Points on every purchase", "status": "active",
                    "rules": [{"kind": "per_amount", "points": "1", "per": "1"}],
                    "levels": {"tiers": SHOP_TIERS, "measure": "points"}},
    )  # fmt: skip
    session.commit()


def api_balance(app: Flask, session: Session) -> int:
    """What the API says Ana holds."""
    _row, key = create_api_key(session, merchant_id="shop", scope="read", name="r", now=utcnow())
    session.commit()
    answer: Any = app.test_client().get(
        f"{API}/customers/42", headers={"Authorization": f"Bearer {key}"}
    )
    return answer.json["accounts"][0]["balance"]


def ledger_state(session: Session, account: Account) -> tuple[int, int]:
    session.expire_all()
    found = (
        session.get_one(Account, account.id).balance,
        session.scalar(select(func.count()).select_from(Coupon)),
    )
    assert verify_ledger(session) == []
    session.commit()
    return found


@BROWSER_BACKENDS
def test_buying_a_reward_after_confirming(
    app: Flask,
    live_server: LiveServer,
    page: Page,
    session: Session,
    ana: Account,  # noqa: F811
) -> None:
    """Catalogue, confirmation with cost and balance after, the coupon; API and ledger agree."""
    rewards = add_rewards(session)
    earn(session, ana, 1000)
    sign_in(page, app, live_server, ana)
    page.get_by_role("link", name="Rewards", exact=True).click()
    voucher = page.locator(f"[data-reward='{rewards['€5 voucher']}']")
    expect(voucher).to_contain_text("300 points")
    expect(voucher).to_contain_text("You can buy it 2 more times")
    expect(page.locator(f"[data-reward='{rewards['Tote bag']}']")).to_contain_text("Sold out")
    mug = page.locator(f"[data-reward='{rewards['Café Lumière mug']}']")
    expect(mug).to_contain_text("You need 4,000 points more")
    voucher.get_by_role("link", name="Buy").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Buy €5 voucher?")
    expect(page.get_by_test_id("cost")).to_have_text("300 points")
    expect(page.get_by_test_id("after")).to_have_text("700 points")
    page.get_by_role("button", name="Yes, buy it for 300 points").click()
    expect(page).to_have_url(re.compile(r"/portal/coupons\?created="))
    expect(page.get_by_test_id("created")).to_contain_text("€5.00")
    expect(page.get_by_test_id("new-balance")).to_have_text("700")
    assert ledger_state(session, ana) == (700, 1)
    assert api_balance(app, session) == 700


@BROWSER_BACKENDS
def test_double_submitting_a_purchase_spends_once(
    app: Flask,
    live_server: LiveServer,
    page: Page,
    session: Session,
    ana: Account,  # noqa: F811
) -> None:
    """The confirmation posted twice at once, then once more: one coupon, 300 points."""
    rewards = add_rewards(session)
    earn(session, ana, 1000)
    sign_in(page, app, live_server, ana)
    page.goto(live_server.url(f"/loyalty/portal/rewards/{rewards['€5 voucher']}"))
    statuses = page.evaluate(
        """async () => {
            const form = document.querySelector("form.confirm");
            const post = () => fetch(form.action, {method: "POST", body: new FormData(form)});
            const answers = await Promise.all([post(), post()]);
            answers.push(await post());
            return answers.map(a => [a.status, a.url]);
        }"""
    )
    assert [status for status, _url in statuses] == [200, 200, 200]
    assert len({url for _status, url in statuses}) == 1
    assert ledger_state(session, ana) == (700, 1)
    assert api_balance(app, session) == 700


@BROWSER_BACKENDS
def test_buying_a_membership_shows_its_end_date(
    app: Flask,
    live_server: LiveServer,
    page: Page,
    session: Session,
    ana: Account,  # noqa: F811
) -> None:
    """Silver for 500 points and 30 days: confirmed, bought, shown with its end date."""
    add_levels(session)
    earn(session, ana, 800)
    sign_in(page, app, live_server, ana)
    page.get_by_role("link", name="Memberships", exact=True).click()
    silver = page.locator("[data-level='silver']")
    expect(silver).to_contain_text("For 30 days.")
    expect(silver).to_contain_text("1.5\u00d7 points on every purchase")
    expect(page.locator("[data-level='gold']")).to_contain_text("You need 700 points more")
    silver.get_by_role("link", name="Buy").click()
    expect(page.get_by_test_id("after")).to_have_text("300 points")
    page.get_by_role("button", name="Yes, buy it for 500 points").click()
    expect(page.get_by_test_id("bought")).to_contain_text("Welcome to Silver")
    expect(page.get_by_test_id("current-end")).to_contain_text("Yours until")
    expect(page.get_by_test_id("available")).to_have_text("300 points")
    assert ledger_state(session, ana) == (300, 0)
    assert api_balance(app, session) == 300


@BROWSER_BACKENDS
def test_the_level_page_after_buying_a_membership(
    app: Flask,
    live_server: LiveServer,
    page: Page,
    session: Session,
    ana: Account,  # noqa: F811
) -> None:
    """From the overview to My level: Silver bought until a date, what counts, the history."""
    add_levels(session)
    earn(session, ana, 800)
    sign_in(page, app, live_server, ana)
    page.goto(live_server.url("/loyalty/portal/memberships/silver"))
    page.get_by_role("button", name="Yes, buy it for 500 points").click()
    page.get_by_role("link", name="My level", exact=True).click()
    expect(page.get_by_test_id("level")).to_have_text("Silver")
    expect(page.get_by_test_id("until")).to_contain_text("Bought with points, until")
    expect(page.get_by_test_id("counts")).to_contain_text("The points you earn")
    expect(page.get_by_test_id("needed")).to_contain_text("4,200 points more to reach Gold")
    history = page.get_by_test_id("history")
    expect(history).to_contain_text("Bronze → Silver")
    expect(history).to_contain_text("Bought with points")
