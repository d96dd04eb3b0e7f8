"""A bonus campaign's budget under 32 threads paying invoices at once, with real commits on
separate connections (#18): the budget is never passed, in total or per customer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.rules import InvoiceView, LineView
from loyalty_plugin.models import Account, BonusCampaign, BonusCampaignGrant, Customer, LedgerEntry
from loyalty_plugin.services.earning import by_program as earning
from loyalty_plugin.services.earning.bonus_campaigns import create_bonus_campaign
from loyalty_plugin.services.earning.programs import create_program
from loyalty_plugin.services.ledger.integrity import verify_ledger
from loyalty_plugin.services.transaction import run_in_transaction
from tests.services.test_concurrency import race, wide_engine  # noqa: F401 - fixture

THREADS = 32
CUSTOMERS = 16
INVOICES = 3
BUDGET = 205
EACH = 25


def invoice(invoice_id: str) -> InvoiceView:
    """100.00: 10 points at 1 per 10.00, and 10 more under a 2x campaign."""
    line = LineView(id="L1", qty=Decimal(1), amount=Decimal("100.00"))
    return InvoiceView(id=invoice_id, currency="EUR", total=Decimal("100.00"), lines=(line,))


@pytest.fixture
def campaign(session: Session, make_account: Callable[..., Account], now: datetime) -> int:
    """Merchant ``shop``: 1 point per 10.00, a 2x campaign with a budget of 205 (25 each)."""
    make_account()  # the merchant
    create_program(
        session,
        merchant_id="shop",
        definition={
            "key": "main", "name": "Main", "status": "active",
            "rules": [{"kind": "per_amount", "points": "1", "per": "10"}],
        },
        now=now - timedelta(days=1),
        actor="test",
    )  # fmt: skip
    created = create_bonus_campaign(
        session,
        merchant_id="shop",
        definition={
            "key": "double", "name": "Double points", "multiplier": "2",
            "starts_at": (now - timedelta(hours=1)).isoformat(),
            "ends_at": (now + timedelta(hours=1)).isoformat(),
            "budget": BUDGET, "budget_per_customer": EACH,
        },
        now=now,
        actor="test",
    )  # fmt: skip
    session.commit()
    return created.id


def test_32_threads_never_pass_the_budget(
    session: Session,
    make_account: Callable[..., Account],
    now: datetime,
    campaign: int,
    wide_engine,  # noqa: F811
) -> None:
    """96 invoices want 960 bonus points of a 205-point budget (25 per customer, two
    threads per customer): exactly 205 are given, none past either budget, the ledger sound."""
    customers = [make_account().customer_id for _ in range(CUSTOMERS)]
    session.commit()
    counter = iter(range(THREADS))

    def pay_three(s: Session) -> list[int]:
        number = next(counter)
        customer = s.get(Customer, customers[number % CUSTOMERS])
        earned = []
        for n in range(INVOICES):
            outcome = run_in_transaction(
                s,
                lambda s2, n=n: earning.earn_on_invoice(
                    s2, merchant_id="shop", customer=customer,
                    invoice=invoice(f"INV-{number}-{n}"), now=now, actor="race",
                    paid_in_full=True,
                ),
            )  # fmt: skip
            earned.append(outcome.points_earned)
        return earned

    results = race(wide_engine, THREADS, lambda s: pay_three(s))
    errors = [r for r in results if isinstance(r, Exception)]
    assert errors == []
    earned = [p for r in results for p in r]  # type: ignore[union-attr]
    assert len(earned) == THREADS * INVOICES
    assert all(10 <= p <= 20 for p in earned)
    session.expire_all()
    given = session.scalar(select(BonusCampaign.given).where(BonusCampaign.id == campaign))
    granted = session.scalar(select(func.sum(BonusCampaignGrant.points)))
    assert given == granted == sum(earned) - 10 * THREADS * INVOICES == BUDGET
    per_customer = session.execute(
        select(BonusCampaignGrant.account_id, func.sum(BonusCampaignGrant.points)).group_by(
            BonusCampaignGrant.account_id
        )
    ).all()
    assert max(points for _, points in per_customer) <= EACH
    bonus_in_ledger = sum(
        item["points"]
        for details in session.scalars(select(LedgerEntry.details).where(LedgerEntry.points > 0))
        for item in (details or {}).get("breakdown", ())
        if item["kind"] == "bonus_campaign"
    )
    assert bonus_in_ledger == BUDGET
    assert verify_ledger(session) == []
