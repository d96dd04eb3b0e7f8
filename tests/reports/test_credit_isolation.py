"""Store credit beside points (#19): a merchant whose customers also hold credit gets
exactly the same points answers as without it.

The known shop's reports are read, then every customer is given a credit account with
earnings, spends, a take-back and reversals (the ledger's whole repertoire, in cents), and
the same reports, balances and jobs must answer the same. Credit lots get expiry dates
here on purpose: the expiry job takes them in their own unit (phase 2) and the points it
takes, and the preview, stay the same.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.ledger import POINTS
from loyalty_plugin.models import Account, Customer, LedgerEntry, Lot
from loyalty_plugin.services.customers.statements import account_of, standing
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.ledger.accounts import open_account
from loyalty_plugin.services.ledger.expiry import (
    count_due_lots,
    expire_due_batch,
    preview_expiry,
)
from loyalty_plugin.services.ledger.integrity import verify_ledger
from loyalty_plugin.services.reports.aging import aging
from loyalty_plugin.services.reports.dashboard import dashboard
from loyalty_plugin.services.reports.journal import JournalFilter, journal_page
from loyalty_plugin.services.reports.rollup import roll_up
from tests.reports.data import MERCHANT, NOW
from tests.reports.test_services import FIRST, LAST

LATER = NOW + timedelta(days=800)


def points_answers(session: Session) -> dict[str, Any]:
    """Every points answer the isolation promises, as comparable values."""
    session.expire_all()
    customers = session.scalars(
        select(Customer).where(Customer.merchant_id == MERCHANT).order_by(Customer.id)
    ).all()
    return {
        # Every points figure; the store credit figure (#19) is credit's own.
        "dashboard": replace(
            dashboard(session, merchant_id=MERCHANT, now=NOW, first=FIRST, last=LAST), credit=[]
        ),
        "journal": journal_page(session, merchant_id=MERCHANT, where=JournalFilter(), limit=50),
        "aging": [
            aging(session, merchant_id=MERCHANT, now=NOW, by=by)
            for by in ("group", "customer", "card")
        ],
        "preview": preview_expiry(session, merchant_id=MERCHANT, at=LATER),
        "standing": [standing(session, c, now=NOW) for c in customers],
        "accounts": [account_of(session, c).id for c in customers],  # type: ignore[union-attr]
    }


def give_credit(session: Session, customer_id: int, *, unit: str, n: int) -> None:
    """Credit activity in cents: earns (one expiring), a spend, a take-back, reversals."""
    account = open_account(session, merchant_id=MERCHANT, customer_id=customer_id, unit=unit)
    when = NOW - timedelta(days=10)
    first = ledger.earn(session, account_id=account.id, points=1000 + n, now=when, actor="t",
                        idempotency_key=f"credit:{unit}:{n}:1")  # fmt: skip
    ledger.earn(session, account_id=account.id, points=250, now=when, actor="t",
                expires_at=NOW - timedelta(days=1))  # fmt: skip
    spent = ledger.spend(session, account_id=account.id, points=300, now=when, actor="t")
    ledger.take_back(session, account_id=account.id, points=50, now=when, actor="t", reason="r")
    ledger.reverse(session, entry_id=spent.id, points=100, now=when, actor="t")
    ledger.reverse(session, entry_id=first.id, points=20, now=when, actor="t")
    session.commit()


def test_credit_leaves_every_points_answer_unchanged(session, shop) -> None:
    """Dashboard, journal, aging, expiry preview and job, balances: the same with credit;
    the job takes the credit lots past their date in their own entries."""
    before = points_answers(session)
    due_before = count_due_lots(session, now=LATER, merchant_id=MERCHANT)
    for n, account in enumerate(shop.values()):
        give_credit(session, account.customer_id, unit="EUR", n=n)
        if n % 2:
            give_credit(session, account.customer_id, unit="USD", n=n)
    assert points_answers(session) == before
    roll_up(session, merchant_id=MERCHANT, settle_seconds=0)
    assert points_answers(session) == before
    dated = (Lot.unit != POINTS, Lot.expires_at <= LATER, Lot.remaining > 0)
    credit_due = dict(
        session.execute(
            select(Lot.unit, func.sum(Lot.remaining)).where(*dated).group_by(Lot.unit)
        ).all()
    )
    credit_lots = session.scalar(select(func.count()).select_from(Lot).where(*dated))
    assert credit_lots and count_due_lots(session, now=LATER, merchant_id=MERCHANT) == (
        due_before + credit_lots
    )
    batch = expire_due_batch(session, now=LATER, merchant_id=MERCHANT)
    session.commit()
    assert batch.points == before["preview"].points - before["preview"].idle_points
    assert batch.credit == credit_due
    assert session.scalar(select(func.count()).select_from(Lot).where(*dated)) == 0
    assert verify_ledger(session) == []


def test_each_unit_has_its_own_account_and_entries(session, shop) -> None:
    """One account per unit; entries and lots carry their account's unit."""
    customer_id = shop["ana"].customer_id
    give_credit(session, customer_id, unit="EUR", n=0)
    units = session.scalars(
        select(Account.unit).where(Account.customer_id == customer_id).order_by(Account.unit)
    ).all()
    assert units == ["EUR", POINTS]
    credit = open_account(session, merchant_id=MERCHANT, customer_id=customer_id, unit="EUR")
    assert credit.balance == 1000 + 250 - 300 - 50 + 100 - 20
    found = session.scalars(
        select(LedgerEntry.unit).where(LedgerEntry.account_id == credit.id).distinct()
    ).all()
    assert found == ["EUR"]
    assert session.scalars(
        select(Lot.unit).where(Lot.account_id == credit.id).distinct()
    ).all() == ["EUR"]
