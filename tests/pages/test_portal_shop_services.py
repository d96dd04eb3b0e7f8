"""Rewards and memberships bought from the portal, on every backend: offers, once per form."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.coupons import CouponKind, CouponValue
from loyalty_plugin.domain.errors import IdempotencyConflict, InvalidOperation, NotFound
from loyalty_plugin.models import Account, Coupon, Customer, LedgerEntry, LevelHistory, Merchant
from loyalty_plugin.services.customers import portal_shop
from loyalty_plugin.services.earning.programs import create_program
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.ledger.integrity import verify_ledger
from loyalty_plugin.services.spending.rewards import create_reward

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
COFFEE = CouponValue(kind=CouponKind.PRODUCT, product_ids=("coffee",))
TIERS = [
    {"key": "bronze", "name": "Bronze", "threshold": "0"},
    {"key": "silver", "name": "Silver", "threshold": "1000", "multiplier": "1.5",
     "price_points": 500, "duration_days": 30},
    {"key": "gold", "name": "Gold", "threshold": "5000", "price_points": 2000,
     "duration_days": 90},
]  # fmt: skip


def customer(session: Session, host_id: str, merchant: str = "shop") -> Customer:
    person = Customer(merchant_id=merchant, host_customer_id=host_id, first_name=host_id)
    session.add(person)
    session.flush()
    session.add(Account(merchant_id=merchant, customer_id=person.id))
    session.flush()
    return person


@pytest.fixture
def ana(session: Session) -> Customer:
    """Ana of ``shop`` with 1,000 points; Ben of ``other`` exists too."""
    for merchant in ("shop", "other"):
        session.add(Merchant(id=merchant, name=merchant.title(), currency="EUR"))
    session.flush()
    ana = customer(session, "42")
    customer(session, "7", merchant="other")
    give(session, ana, 1000)
    return ana


def give(session: Session, person: Customer, points: int) -> None:
    account = session.scalars(select(Account).where(Account.customer_id == person.id)).one()
    ledger.earn(session, account_id=account.id, points=points, now=NOW, actor="t")
    session.commit()


def balance(session: Session, person: Customer) -> int:
    session.expire_all()
    return session.scalars(select(Account.balance).where(Account.customer_id == person.id)).one()


def reward(session: Session, merchant: str = "shop", **more: object) -> int:
    made = create_reward(
        session, merchant_id=merchant, name=more.pop("name", "Free coffee"),
        points=more.pop("points", 300), value=COFFEE, now=NOW, **more,
    )  # fmt: skip
    session.commit()
    return made.id


# -- rewards -------------------------------------------------------------------------------


def test_the_catalogue_says_what_each_customer_can_buy(session: Session, ana: Customer) -> None:
    """Affordable, too dear (with the points missing), sold out, and bought up to the limit."""
    cheap = reward(session, name="Coffee", points=300, per_customer_limit=1)
    dear = reward(session, name="Mug", points=1500)
    gone = reward(session, name="Tote", points=100, stock=0)
    reward(session, "other", name="Not ours")
    offers = {o.reward.id: o for o in portal_shop.reward_catalogue(session, ana, now=NOW)}
    assert set(offers) == {cheap, dear, gone}
    assert (offers[cheap].blocked, offers[cheap].left_for_you, offers[cheap].balance_after) == (
        None,
        1,
        700,
    )
    assert (offers[dear].blocked, offers[dear].missing) == ("points", 500)
    assert offers[gone].blocked == "sold_out"
    portal_shop.buy_reward(session, ana, reward_id=cheap, form_key="k1", now=NOW)
    session.commit()
    again = portal_shop.reward_offer(session, ana, cheap, now=NOW)
    found = (again.bought, again.left_for_you, again.blocked, again.available)
    assert found == (1, 0, "limit", 700)


def test_buying_a_reward_twice_with_one_form_spends_once(session: Session, ana: Customer) -> None:
    """The second post of the same form answers the first coupon; stock and points move once."""
    coffee = reward(session, stock=5)
    first = portal_shop.buy_reward(session, ana, reward_id=coffee, form_key="k1", now=NOW)
    session.commit()
    second = portal_shop.buy_reward(session, ana, reward_id=coffee, form_key="k1", now=NOW)
    session.commit()
    assert second.id == first.id and first.reward_id == coffee
    assert balance(session, ana) == 700
    assert session.scalar(select(func.count()).select_from(Coupon)) == 1
    assert portal_shop.reward_offer(session, ana, coffee, now=NOW).reward.stock == 4
    portal_shop.buy_reward(session, ana, reward_id=coffee, form_key="k2", now=NOW)
    session.commit()
    assert balance(session, ana) == 400
    assert verify_ledger(session) == []


def test_one_form_key_cannot_buy_another_reward(session: Session, ana: Customer) -> None:
    """A key used for one reward and sent again for another is refused, nothing spent."""
    coffee, cake = reward(session), reward(session, name="Cake", points=200)
    portal_shop.buy_reward(session, ana, reward_id=coffee, form_key="k1", now=NOW)
    session.commit()
    with pytest.raises(IdempotencyConflict):
        portal_shop.buy_reward(session, ana, reward_id=cake, form_key="k1", now=NOW)
    session.rollback()
    assert balance(session, ana) == 700


def test_another_merchants_reward_is_not_found(session: Session, ana: Customer) -> None:
    """A reward id of another shop, typed into the address or the form: not found, no spend."""
    theirs = reward(session, "other", name="Theirs")
    with pytest.raises(NotFound):
        portal_shop.reward_offer(session, ana, theirs, now=NOW)
    with pytest.raises(NotFound):
        portal_shop.buy_reward(session, ana, reward_id=theirs, form_key="k", now=NOW)
    session.rollback()
    assert balance(session, ana) == 1000


def test_a_reward_taken_off_offer_cannot_be_bought(session: Session, ana: Customer) -> None:
    """Inactive: not in the catalogue, not found to confirm, refused to buy."""
    from loyalty_plugin.services.spending.rewards import update_reward

    coffee = reward(session)
    update_reward(session, merchant_id="shop", reward_id=coffee, changes={"active": False}, now=NOW)
    session.commit()
    assert portal_shop.reward_catalogue(session, ana, now=NOW) == []
    with pytest.raises(NotFound):
        portal_shop.reward_offer(session, ana, coffee, now=NOW)
    with pytest.raises(InvalidOperation):
        portal_shop.buy_reward(session, ana, reward_id=coffee, form_key="k", now=NOW)


# -- memberships ---------------------------------------------------------------------------


@pytest.fixture
def levels(session: Session, ana: Customer) -> None:
    create_program(
        session, merchant_id="shop", now=NOW - timedelta(days=1), actor="t",
        definition={"key": "main", "name": "Main", "status": "active",
                    "rules": [{"kind": "per_amount", "points": "1", "per": "1"}],
                    "levels": {"tiers": TIERS, "measure": "money"}},
    )  # fmt: skip
    session.commit()


@pytest.mark.usefixtures("levels")
def test_levels_for_sale_with_price_duration_and_what_is_missing(
    session: Session, ana: Customer
) -> None:
    """Silver for 500 points (30 days) is affordable; Gold for 2,000 lacks 1,000."""
    offers = portal_shop.membership_offers(session, ana, now=NOW)
    assert [(o.level.key, o.price, o.days, o.blocked) for o in offers] == [
        ("silver", 500, 30, None),
        ("gold", 2000, 90, "points"),
    ]
    assert offers[1].missing == 1000 and offers[0].level.multiplier == Decimal("1.5")
    with pytest.raises(NotFound):
        portal_shop.membership_offer(session, ana, "bronze", now=NOW)


@pytest.mark.usefixtures("levels")
def test_buying_a_membership_twice_with_one_form_spends_and_extends_once(
    session: Session, ana: Customer
) -> None:
    """The same form posted twice: 500 points, 30 days, one history row."""
    first = portal_shop.buy_membership(session, ana, level="silver", form_key="k1", now=NOW)
    session.commit()
    ends = first.expires_at
    second = portal_shop.buy_membership(session, ana, level="silver", form_key="k1", now=NOW)
    session.commit()
    assert second.expires_at == ends == NOW + timedelta(days=30)
    assert balance(session, ana) == 500
    assert session.scalar(select(func.count()).select_from(LevelHistory)) == 1
    offer = portal_shop.membership_offer(session, ana, "silver", now=NOW)
    assert offer.current_end == ends
    again = portal_shop.buy_membership(session, ana, level="silver", form_key="k2", now=NOW)
    session.commit()
    assert again.expires_at == NOW + timedelta(days=60) and balance(session, ana) == 0
    spends = select(func.count()).select_from(LedgerEntry).where(LedgerEntry.points < 0)
    assert session.scalar(spends) == 2
    assert verify_ledger(session) == []
