"""The level rules see is decided on the caller's clock, not the wall clock."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from loyalty_plugin.services.earning import programs
from loyalty_plugin.services.earning.rule_engine import customer_level
from loyalty_plugin.services.ledger.accounts import open_account, upsert_customer
from loyalty_plugin.services.levels.memberships import give_level
from loyalty_plugin.services.merchants.registration import create_merchant

TIERS = [
    {"key": "bronze", "name": "Bronze", "threshold": "0"},
    {"key": "gold", "name": "Gold", "threshold": "20000"},
]


def test_a_given_level_counts_until_its_end_on_the_callers_clock(
    session: Session, now: datetime
) -> None:
    """Gold given for 30 days is the rules' level on day 1 and the earned one on day 31,
    whatever the date on the machine running them (a job's --at, a retried event)."""
    create_merchant(session, merchant_id="shop", name="Shop", currency="EUR", now=now)
    definition = {
        "key": "main",
        "name": "Main",
        "status": "active",
        "effective_from": (now - timedelta(days=1)).isoformat(),
        "rules": [{"id": "base", "kind": "per_amount", "points": "1", "per": "10"}],
        "levels": {"tiers": TIERS},
    }
    programs.create_program(session, merchant_id="shop", definition=definition, now=now, actor="t")
    customer = upsert_customer(session, merchant_id="shop", host_customer_id="c1", first_name="A")
    account = open_account(session, merchant_id="shop", customer_id=customer.id)
    give_level(
        session,
        merchant_id="shop",
        account_id=account.id,
        level="gold",
        until=now + timedelta(days=30),
        reason="press",
        now=now,
        actor="t",
        program_key="main",
    )
    assert customer_level(session, customer, now=now + timedelta(days=1)) == "gold"
    assert customer_level(session, customer, now=now + timedelta(days=31)) == "bronze"
