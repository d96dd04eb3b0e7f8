"""The portal's rewards, memberships, level and preferences pages in German, through the
test client (docs/portal.md#languages): the shop's locale is ``de_DE``, so its customers
read German, with "1 Punkt" and "300 Punkte" through ``ngettext``."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.coupons import CouponKind, CouponValue
from loyalty_plugin.domain.notifications import NotificationPrefs
from loyalty_plugin.models import Account, Customer, Merchant, Reward
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.earning.programs import create_program
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.levels import memberships as levels
from loyalty_plugin.services.messaging.notifications import set_notification_prefs
from loyalty_plugin.services.spending.rewards import create_reward
from tests.pages.test_portal_level import TIERS
from tests.pages.test_portal_shop_pages import PORTAL, balance, form_of, sign_in

FIVE_OFF = CouponValue(kind=CouponKind.AMOUNT, amount=Decimal("5.00"), currency="EUR")


@pytest.fixture
def ana(session: Session) -> Customer:
    """Ana of a German shop, Silver with 1,200 points earned; levels count points over a
    rolling 180 days; a reward for 1 point (once) and one for 300 points (twice)."""
    session.add(Merchant(id="shop", name="Laden", currency="EUR"))
    session.flush()
    set_notification_prefs(
        session, merchant_id="shop", prefs=NotificationPrefs(locale="de_DE"), now=utcnow(),
        actor="t",
    )  # fmt: skip
    ana = Customer(merchant_id="shop", host_customer_id="ana", first_name="Ana")
    session.add(ana)
    session.flush()
    account = Account(merchant_id="shop", customer_id=ana.id)
    session.add(account)
    create_program(
        session, merchant_id="shop", now=utcnow() - timedelta(days=1), actor="t",
        definition={"key": "main", "name": "Main", "status": "active",
                    "rules": [{"kind": "per_amount", "points": "1", "per": "1"}],
                    "levels": {"tiers": TIERS, "measure": "points", "period": "rolling",
                               "days": 180}},
    )  # fmt: skip
    session.flush()
    ledger.earn(session, account_id=account.id, points=1200, now=utcnow(), actor="t")
    levels.update_levels(
        session, merchant_id="shop", account_id=account.id, now=utcnow(), actor="t"
    )
    for name, points, limit in (("Probe", 1, 1), ("Gutschein", 300, 2)):
        create_reward(
            session, merchant_id="shop", name=name, points=points, value=FIVE_OFF,
            now=utcnow(), per_customer_limit=limit,
        )  # fmt: skip
    session.commit()
    return ana


def page(client: Any, path: str) -> str:
    answer = client.get(f"{PORTAL}/{path}")
    assert answer.status_code == 200
    return answer.data.decode()


def test_the_rewards_page_reads_in_german(app: Flask, client: Any, ana: Customer) -> None:
    """Heading, lead and limits in German; one point singular, more points plural."""
    sign_in(app, client, ana)
    rewards = page(client, "rewards")
    assert '<html lang="de-DE">' in rewards and "<h1>Prämien</h1>" in rewards
    assert "Ihnen stehen <strong" in rewards and "1.200 Punkte</strong> zur Verfügung" in rewards
    assert '<p class="price">1 Punkt</p>' in rewards
    assert '<p class="price">300 Punkte</p>' in rewards
    assert "Sie können sie noch einmal kaufen" in rewards
    assert "Sie können sie noch 2-mal kaufen" in rewards
    assert "Danach hätten Sie noch 900 Punkte." in rewards
    assert " points<" not in rewards and "You have" not in rewards


def test_the_level_page_reads_in_german(
    app: Flask, client: Any, session: Session, ana: Customer
) -> None:
    """The level now, what counts (180 days, plural), and the history's reason in German."""
    sign_in(app, client, ana)
    level = page(client, "level")
    assert "<h1>Meine Stufe</h1>" in level and "Ihre aktuelle Stufe" in level
    assert "Nur die letzten 180 Tage zählen." in level
    assert "Was für Ihre nächste Stufe zählt" in level
    assert "Bisher: <strong" in level and "1.200 Punkte</strong>" in level
    assert "Mit Ihren gesammelten Punkten erreicht" in level
    assert "Noch 3.800 Punkte bis Gold." in level
    assert " points<" not in level and "Your level" not in level


def test_the_memberships_and_preferences_pages_read_in_german(
    app: Flask, client: Any, ana: Customer
) -> None:
    sign_in(app, client, ana)
    memberships = page(client, "memberships")
    assert "<h1>Mitgliedschaften</h1>" in memberships and "Für 30 Tage." in memberships
    preferences = page(client, "preferences")
    assert "Neuigkeiten und Angebote" in preferences and "E-Mails erhalten" in preferences


def test_a_refused_purchase_says_why_in_german(
    app: Flask, client: Any, session: Session, ana: Customer
) -> None:
    """The limit of one, reached, is explained in German (singular), and nothing is spent."""
    sign_in(app, client, ana)
    probe = session.scalars(select(Reward.id).where(Reward.name == "Probe")).one()
    session.commit()
    path = f"{PORTAL}/rewards/{probe}"
    stale = form_of(client.get(path).data)
    assert client.post(path, data=form_of(client.get(path).data)).status_code == 303
    answer = client.post(path, data=stale)
    assert answer.status_code == 422
    assert "Diese Prämie kann pro Kunde nur einmal gekauft werden." in answer.data.decode()
    assert balance(session, ana) == 1200 - 1
