"""The portal's level page: the level held, until when, what counts, and the history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty_plugin.models import Account, Customer, Merchant
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.customers import portal, portal_level
from loyalty_plugin.services.earning.programs import create_program
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.levels import memberships as levels

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
TIERS = [
    {"key": "bronze", "name": "Bronze", "threshold": "0"},
    {"key": "silver", "name": "Silver", "threshold": "1000", "price_points": 500,
     "duration_days": 30},
    {"key": "gold", "name": "Gold", "threshold": "5000"},
]  # fmt: skip


@pytest.fixture
def ana(session: Session) -> Customer:
    """Ana of ``shop``, whose levels count points over a rolling 180 days."""
    session.add(Merchant(id="shop", name="Shop", currency="EUR"))
    session.flush()
    ana = Customer(merchant_id="shop", host_customer_id="42", first_name="Ana")
    session.add(ana)
    session.flush()
    session.add(Account(merchant_id="shop", customer_id=ana.id))
    create_program(
        session, merchant_id="shop", now=NOW - timedelta(days=400), actor="t",
        definition={"key": "main", "name": "Main", "status": "active",
                    "rules": [{"kind": "per_amount", "points": "1", "per": "1"}],
                    "levels": {"tiers": TIERS, "measure": "points", "period": "rolling",
                               "days": 180}},
    )  # fmt: skip
    session.commit()
    return ana


def account_id(session: Session, person: Customer) -> int:
    return session.scalars(select(Account.id).where(Account.customer_id == person.id)).one()


def earn(session: Session, person: Customer, points: int, at: datetime) -> None:
    acc = account_id(session, person)
    ledger.earn(session, account_id=acc, points=points, now=at, actor="t")
    levels.update_levels(session, merchant_id="shop", account_id=acc, now=at, actor="t")
    session.commit()


def story(session: Session, ana: Customer) -> None:
    """Silver earned, Gold given by staff with an internal note, then Silver bought."""
    earn(session, ana, 1200, NOW - timedelta(days=10))
    levels.give_level(
        session, merchant_id="shop", account_id=account_id(session, ana), level="gold",
        until=NOW - timedelta(days=2), reason="complaint #4411 goodwill",
        now=NOW - timedelta(days=5), actor="staff:Bo",
    )  # fmt: skip
    session.commit()
    levels.update_levels(
        session, merchant_id="shop", account_id=account_id(session, ana), now=NOW, actor="t"
    )
    session.commit()


def test_the_history_reads_in_the_customers_words(session: Session, ana: Customer) -> None:
    """From, to, why and when, newest first; a staff note never shows."""
    story(session, ana)
    page = portal_level.level_page(session, ana, now=NOW)
    assert page is not None
    moves = [(m.from_name, m.to_name, m.why, m.up) for m in page.history]
    assert moves == [
        ("Gold", "Silver", "The level given to you ended", False),
        ("Silver", "Gold", "Given to you by our team", True),
        ("Bronze", "Silver", "Reached with your points earned", True),
    ]
    assert (page.measure, page.period, page.days) == ("points", "rolling", 180)
    assert page.view.current.name == "Silver" and page.view.next.name == "Gold"


def test_reasons_have_words_and_unknown_ones_a_plain_default() -> None:
    """Every reason the engine writes reads as a sentence; a new one is "Level changed"."""
    assert portal_level.why("below threshold", "money") == (
        "Your purchases fell below what the level needs"
    )
    assert portal_level.why("bought (extended)", "points") == "Extended with points"
    assert portal_level.why("bought level ended", "points") == "Your bought membership ended"
    assert portal_level.why("given: carried over from a merged customer", "points") == (
        "Carried over from a membership merged into yours"
    )
    assert portal_level.why("something new", "points") == "Level changed"


def test_the_page_shows_the_end_of_a_bought_level(
    app: Flask, client: Any, session: Session, ana: Customer
) -> None:
    """A bought Silver: "until" its end date, what counts, and the history row."""
    earn(session, ana, 800, utcnow() - timedelta(days=1))
    levels.buy_membership(
        session, merchant_id="shop", account_id=account_id(session, ana), level="silver",
        now=utcnow(), actor="t",
    )  # fmt: skip
    session.commit()
    token = portal.make_token(
        app.config["LOYALTY_SECRET_KEY"], merchant_id="shop", customer_id=ana.id,
        expires_at=utcnow() + timedelta(hours=1),
    )  # fmt: skip
    client.get(f"/loyalty/portal/link/{token}")
    page = client.get("/loyalty/portal/level").data.decode()
    assert "Bought with points, until" in page
    assert "Only the last 180 days count." in page
    assert "Bronze → Silver" in page and "Bought with points" in page
    assert "4,200 points more to reach Gold" in page
