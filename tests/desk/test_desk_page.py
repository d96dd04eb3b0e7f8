"""The customer page's data on every backend: what it shows, and in how many queries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from sqlalchemy.orm import Session

from loyalty_plugin.domain.errors import NotFound
from loyalty_plugin.domain.rules import InvoiceView, LineView
from loyalty_plugin.models import Account, Adjustment, AdjustmentStatus, Customer
from loyalty_plugin.services.customers.desk import customer_page
from loyalty_plugin.services.earning import by_program as earning
from loyalty_plugin.services.earning.programs import create_program
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.merchants.registration import create_merchant
from loyalty_plugin.services.transaction import run_in_transaction
from tests.desk.queries import counted

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
TIERS = [
    {"key": "bronze", "name": "Bronze", "threshold": "0"},
    {"key": "silver", "name": "Silver", "threshold": "100"},
]


@pytest.fixture
def ana(session: Session) -> Customer:
    """Ana of shop, whose program has levels and gives 1 point per 10.00 and 5 per bike."""
    create_merchant(session, merchant_id="shop", name="Shop", currency="EUR", now=NOW)
    create_merchant(session, merchant_id="other", name="Other", currency="EUR", now=NOW)
    create_program(
        session,
        merchant_id="shop",
        definition={
            "key": "main", "name": "Main", "status": "active", "priority": 1,
            "combination": "exclusive",
            "rules": [{"id": "base", "kind": "per_amount", "points": "1", "per": "10"},
                      {"id": "bikes", "kind": "product", "points_per_unit": "5",
                       "products": ["bike"]}],
            "levels": {"tiers": TIERS, "measure": "points"},
        },
        now=NOW - timedelta(days=30),
        actor="test",
    )  # fmt: skip
    customer = Customer(
        merchant_id="shop", host_customer_id="42", first_name="Ana", last_name="Silva",
        email="ana@example.com", email_opt_in=True,
    )  # fmt: skip
    session.add(customer)
    session.flush()
    session.add(Account(merchant_id="shop", customer_id=customer.id))
    session.commit()
    return customer


def account(session: Session, customer: Customer) -> Account:
    return session.query(Account).filter_by(customer_id=customer.id).one()


def pay(session: Session, customer: Customer, invoice_id: str, now: datetime) -> None:
    lines = (
        LineView(id="L1", qty=D(2), amount=D("300.00"), product_id="bike"),
        LineView(id="L2", qty=D(1), amount=D("50.00"), product_id="lock"),
    )
    invoice = InvoiceView(id=invoice_id, currency="EUR", total=D("350.00"), lines=lines)
    run_in_transaction(
        session,
        lambda s: earning.earn_on_invoice(
            s, merchant_id="shop", customer=customer, invoice=invoice, now=now, actor="test",
            paid_in_full=True,
        ),
    )  # fmt: skip


def test_the_page_shows_balance_lots_level_and_each_earning_explained(
    session: Session, ana: Customer
) -> None:
    """An invoice's entry shows its rules per line; the balance, lots and level follow."""
    pay(session, ana, "INV-1", NOW - timedelta(days=2))
    page = customer_page(session, merchant_id="shop", customer_id=ana.id, now=NOW)
    assert (page.customer.display_name, page.customer.email_opt_in) == ("Ana Silva", True)
    assert page.balance.balance == page.balance.available == 45
    assert (page.balance.pending, page.balance.held, page.balance.debt) == (0, 0, 0)
    [line] = page.log.lines
    assert line.reference == "Invoice INV-1"
    assert line.program == "Main, version 1"
    assert {(b.rule, b.line, b.points) for b in line.breakdown} == {
        ("base", "L1", 30), ("base", "L2", 5), ("bikes", "L1", 10),
    }  # fmt: skip
    assert [(lot.remaining, lot.expires_at) for lot in page.lots] == [(45, line.expires_at)]
    assert page.level is not None
    assert (page.level.current.key, page.level.next.key) == ("bronze", "silver")
    assert page.level_choices == [("bronze", "Bronze"), ("silver", "Silver")]


def test_the_page_counts_debt_and_pending_adjustments(session: Session, ana: Customer) -> None:
    """Points owed and adjustments awaiting approval are on the page."""
    acc = account(session, ana)
    acc.debt, acc.balance = 30, -30
    session.add(
        Adjustment(merchant_id="shop", account_id=acc.id, points=900, reason="goodwill",
                   status=AdjustmentStatus.PENDING, requested_by="staff:1 Bo", created_at=NOW)
    )  # fmt: skip
    session.commit()
    page = customer_page(session, merchant_id="shop", customer_id=ana.id, now=NOW)
    assert (page.balance.debt, page.balance.balance) == (30, -30)
    assert [(a.points, a.reason) for a in page.pending_adjustments] == [(900, "goodwill")]


def test_another_merchants_customer_is_not_found(session: Session, ana: Customer) -> None:
    """The page is scoped to the merchant: the same id at another merchant is 404."""
    with pytest.raises(NotFound):
        customer_page(session, merchant_id="other", customer_id=ana.id, now=NOW)


def test_the_page_takes_the_same_queries_with_more_history(session: Session, ana: Customer) -> None:
    """Queries are constant: 1 invoice or 40 invoices, 1 coupon-less lot or 40."""
    pay(session, ana, "INV-0", NOW - timedelta(days=3))
    acc = account(session, ana)
    ledger.earn(session, account_id=acc.id, points=1, now=NOW - timedelta(hours=1),
                actor="test", expires_at=NOW + timedelta(days=1))  # fmt: skip
    session.commit()
    session.expunge_all()
    with counted(session) as few:
        customer_page(session, merchant_id="shop", customer_id=ana.id, now=NOW)
    session.expunge_all()
    acc = account(session, ana)
    for n in range(2, 40):
        ledger.earn(session, account_id=acc.id, points=n, now=NOW - timedelta(hours=n),
                    actor="test", expires_at=NOW + timedelta(days=n))  # fmt: skip
    pay(session, ana, "INV-1", NOW - timedelta(days=1))
    session.commit()
    session.expunge_all()
    with counted(session) as many:
        page = customer_page(session, merchant_id="shop", customer_id=ana.id, now=NOW, log_page=2)
    assert len(many) == len(few), "\n\n".join(
        q for q in many if q not in few or many.count(q) != few.count(q)
    )
    assert (page.log.page, page.log.pages, page.log.total) == (2, 2, 41)
    assert page.lots_total == 41
