"""The portal's shop pages through the test client: CSRF, other customers' ids, wording.

Every form and page that takes an id is tried with ids that are not the signed-in
customer's to use: another merchant's reward, a level not for sale, another customer's
form values. Each is refused and spends nothing.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.coupons import CouponKind, CouponValue
from loyalty_plugin.models import Account, Customer, Merchant
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.customers import portal
from loyalty_plugin.services.earning.programs import create_program
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.spending.rewards import create_reward

PORTAL = "/loyalty/portal"
FIVE_OFF = CouponValue(kind=CouponKind.AMOUNT, amount=Decimal("5.00"), currency="EUR")
TIERS = [
    {"key": "bronze", "name": "Bronze", "threshold": "0"},
    {"key": "silver", "name": "Silver", "threshold": "1000", "price_points": 500,
     "duration_days": 30},
]  # fmt: skip


@pytest.fixture
def shop(session: Session) -> dict[str, Any]:
    """Ana (1,000 points) and Ben (1,000 points) of ``shop``; Cy of ``other``; a reward each."""
    made: dict[str, Any] = {}
    for merchant in ("shop", "other"):
        session.add(Merchant(id=merchant, name=merchant.title(), currency="EUR"))
    session.flush()
    for name, merchant in (("ana", "shop"), ("ben", "shop"), ("cy", "other")):
        person = Customer(merchant_id=merchant, host_customer_id=name, first_name=name.title())
        session.add(person)
        session.flush()
        account = Account(merchant_id=merchant, customer_id=person.id)
        session.add(account)
        session.flush()
        ledger.earn(session, account_id=account.id, points=1000, now=utcnow(), actor="t")
        made[name] = person
    for merchant in ("shop", "other"):
        made[f"reward_{merchant}"] = create_reward(
            session, merchant_id=merchant, name=f"{merchant} voucher", points=300,
            value=FIVE_OFF, now=utcnow(), per_customer_limit=2,
        ).id  # fmt: skip
        create_program(
            session, merchant_id=merchant, now=utcnow() - timedelta(days=1), actor="t",
            definition={"key": "main", "name": "Main", "status": "active",
                        "rules": [{"kind": "per_amount", "points": "1", "per": "1"}],
                        "levels": {"tiers": TIERS, "measure": "money"}},
        )  # fmt: skip
    session.commit()
    return made


def sign_in(app: Flask, client: Any, person: Customer) -> None:
    token = portal.make_token(
        app.config["LOYALTY_SECRET_KEY"], merchant_id=person.merchant_id,
        customer_id=person.id, expires_at=utcnow() + timedelta(hours=1),
    )  # fmt: skip
    assert client.get(f"{PORTAL}/link/{token}").status_code == 303


def form_of(page: bytes) -> dict[str, str]:
    """The hidden values of the page's confirmation form."""
    text = page.decode()
    return {
        name: re.search(rf'name="{name}" value="([^"]*)"', text).group(1)  # type: ignore[union-attr]
        for name in ("form_key", "csrf")
    }


def balance(session: Session, person: Customer) -> int:
    session.expire_all()
    found = session.scalars(select(Account.balance).where(Account.customer_id == person.id)).one()
    session.commit()
    return found


def test_the_catalogue_and_confirmation_speak_plainly(
    app: Flask, client: Any, shop: dict[str, Any]
) -> None:
    """Price, the balance after, "1 point" and "2 points", no internal ids."""
    sign_in(app, client, shop["ana"])
    page = client.get(f"{PORTAL}/rewards").data.decode()
    assert "shop voucher" in page and "other voucher" not in page
    assert "€5.00 off" in page and "300 points" in page and "You can buy it 2 more times" in page
    confirm = client.get(f"{PORTAL}/rewards/{shop['reward_shop']}").data.decode()
    assert "It costs" in confirm and 'data-testid="after">700 points<' in confirm
    members = client.get(f"{PORTAL}/memberships").data.decode()
    assert "Silver" in members and "For 30 days." in members and "500 points" in members


def test_another_merchants_reward_is_refused_in_the_url_and_the_form(
    app: Flask, client: Any, session: Session, shop: dict[str, Any]
) -> None:
    """Cy's shop's reward id in Ana's address, and posted with Ana's form: 404, no spend."""
    sign_in(app, client, shop["ana"])
    theirs = shop["reward_other"]
    assert client.get(f"{PORTAL}/rewards/{theirs}").status_code == 404
    form = form_of(client.get(f"{PORTAL}/rewards/{shop['reward_shop']}").data)
    answer = client.post(f"{PORTAL}/rewards/{theirs}", data=form)
    assert answer.status_code == 404 and answer.mimetype == "text/html"
    assert b"Traceback" not in answer.data
    assert balance(session, shop["ana"]) == balance(session, shop["cy"]) == 1000


def test_another_customers_form_is_refused(
    app: Flask, client: Any, session: Session, shop: dict[str, Any]
) -> None:
    """Ben's signed form values posted with Ana's cookie (and the reverse): 400, no spend."""
    sign_in(app, client, shop["ben"])
    bens = form_of(client.get(f"{PORTAL}/rewards/{shop['reward_shop']}").data)
    bens_level = form_of(client.get(f"{PORTAL}/memberships/silver").data)
    sign_in(app, client, shop["ana"])
    for path, form in (
        (f"{PORTAL}/rewards/{shop['reward_shop']}", bens),
        (f"{PORTAL}/memberships/silver", bens_level),
        (f"{PORTAL}/rewards/{shop['reward_shop']}", {"form_key": "x"}),
    ):
        answer = client.post(path, data=form)
        assert answer.status_code == 400 and b"Please try again" in answer.data
    assert balance(session, shop["ana"]) == balance(session, shop["ben"]) == 1000


def test_a_level_not_for_sale_is_not_found(
    app: Flask, client: Any, session: Session, shop: dict[str, Any]
) -> None:
    """Bronze (no price) and an unknown level, in the address and posted: 404."""
    sign_in(app, client, shop["ana"])
    form = form_of(client.get(f"{PORTAL}/memberships/silver").data)
    for level in ("bronze", "platinum"):
        assert client.get(f"{PORTAL}/memberships/{level}").status_code == 404
        assert client.post(f"{PORTAL}/memberships/{level}", data=form).status_code == 404
    assert balance(session, shop["ana"]) == 1000


def test_posting_one_form_twice_buys_once(
    app: Flask, client: Any, session: Session, shop: dict[str, Any]
) -> None:
    """The reward and the membership forms, each sent twice: one purchase each."""
    sign_in(app, client, shop["ana"])
    reward = f"{PORTAL}/rewards/{shop['reward_shop']}"
    form = form_of(client.get(reward).data)
    first, second = client.post(reward, data=form), client.post(reward, data=form)
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert "/coupons?created=" in first.headers["Location"]
    level = form_of(client.get(f"{PORTAL}/memberships/silver").data)
    for _ in range(2):
        answer = client.post(f"{PORTAL}/memberships/silver", data=level)
        assert answer.status_code == 303
    assert balance(session, shop["ana"]) == 1000 - 300 - 500
    page = client.get(answer.headers["Location"]).data.decode()
    assert "Welcome to Silver" in page and "runs until" in page


def test_a_refused_purchase_shows_the_reason_and_spends_nothing(
    app: Flask, client: Any, session: Session, shop: dict[str, Any]
) -> None:
    """Bought up to the limit: the next one is refused with the limit in words, 422."""
    sign_in(app, client, shop["ana"])
    reward = f"{PORTAL}/rewards/{shop['reward_shop']}"
    stale = form_of(client.get(reward).data)
    for _ in range(2):
        assert client.post(reward, data=form_of(client.get(reward).data)).status_code == 303
    answer = client.post(reward, data=stale)
    assert answer.status_code == 422
    assert b"This reward can be bought 2 times per customer." in answer.data
    assert balance(session, shop["ana"]) == 400
