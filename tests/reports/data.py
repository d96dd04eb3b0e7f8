"""A shop with known points, in Madrid's time zone, across the 2026 change to summer time.

The report period is Monday 23 March to Sunday 5 April 2026 (two weeks, Madrid time); the
clock of the reports is :data:`NOW`. Every figure the tests expect is worked out here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty_plugin.database import engine_options
from loyalty_plugin.models import Account, Customer, Invoice, InvoiceStatus, Merchant
from loyalty_plugin.services.ledger import entries as ledger

MERCHANT = "shop"
ZONE = "Europe/Madrid"
NOW = datetime(2026, 4, 10, 12, 0, tzinfo=UTC)
FIRST, LAST = "2026-03-23", "2026-04-05"
PROGRAM = {"id": 1, "key": "main", "name": "Main", "version": 1, "version_id": 1}


def at(text: str) -> datetime:
    """A UTC time from ``YYYY-MM-DD HH:MM``."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)


def build_shop(session: Session) -> dict[str, Account]:
    """The shop, four customers, their entries and invoices; committed."""
    session.add(Merchant(id=MERCHANT, name="Corner Shop", currency="EUR", timezone=ZONE))
    session.flush()
    people = {
        "ana": dict(first_name="Ana", last_name="Ruiz", customer_group="vip", card_number="C-1"),
        "ben": dict(first_name="Ben", last_name="Ortiz", customer_group=None),
        "cat": dict(first_name="Cat", last_name="Vidal", customer_group="vip", enrolled=False),
        "dan": dict(first_name="Dan", last_name=None, customer_group="staff", card_number="C-4"),
    }
    accounts = {}
    for host_id, profile in people.items():
        customer = Customer(merchant_id=MERCHANT, host_customer_id=host_id, **profile)
        session.add(customer)
        session.flush()
        accounts[host_id] = Account(merchant_id=MERCHANT, customer_id=customer.id)
        session.add(accounts[host_id])
    session.flush()
    _entries(session, {k: a.id for k, a in accounts.items()})
    _invoices(session, {k: a.customer_id for k, a in accounts.items()})
    session.commit()
    return accounts


def _entries(session: Session, ids: dict[str, int]) -> None:
    earn, spend, adjust = ledger.earn, ledger.spend, ledger.adjust
    # Before the period: dan in 2024 (older than a year), cat in October 2025 (181-365 days),
    # ana at 23:30 on Sunday 22 March, Madrid time (22:30 UTC).
    earn(
        session,
        account_id=ids["dan"],
        points=70,
        now=at("2024-01-10 10:00"),
        actor="t",
        expires_at=at("2027-06-01 00:00"),
    )
    earn(session, account_id=ids["cat"], points=400, now=at("2025-10-01 10:00"), actor="t")
    earn(session, account_id=ids["ana"], points=200, now=at("2026-03-22 22:30"), actor="t")
    # Week of 23 March: 00:30 on Monday in Madrid is 23:30 UTC on Sunday.
    earn(
        session,
        account_id=ids["ana"],
        points=1000,
        now=at("2026-03-22 23:30"),
        actor="t",
        expires_at=at("2026-05-01 00:00"),
        details={"program": PROGRAM},
    )
    earn(
        session,
        account_id=ids["ben"],
        points=500,
        now=at("2026-03-25 10:00"),
        actor="t",
        expires_at=at("2026-03-31 10:00"),
    )
    # Week of 30 March (summer time: it starts at 22:00 UTC on Sunday 29 March).
    spend(session, account_id=ids["ana"], points=300, now=at("2026-03-29 22:30"), actor="t")
    ledger.expire_due_lots(session, account_id=ids["ben"], now=at("2026-03-31 12:00"))
    adjust(
        session,
        account_id=ids["ana"],
        points=50,
        now=at("2026-04-01 09:00"),
        actor="t",
        reason="goodwill",
    )
    adjust(
        session,
        account_id=ids["ana"],
        points=-20,
        now=at("2026-04-02 09:00"),
        actor="t",
        reason="=correction",
    )
    # After the period: 00:30 on Monday 6 April in Madrid.
    earn(session, account_id=ids["cat"], points=100, now=at("2026-04-05 22:30"), actor="t")


def _invoices(session: Session, customer_ids: dict[str, int]) -> None:
    paid = [
        ("ana", "2026-03-24 10:00", InvoiceStatus.PAID),
        ("ana", "2026-04-03 10:00", InvoiceStatus.PAID),
        ("ana", "2026-03-01 10:00", InvoiceStatus.PAID),  # before the period
        ("ben", "2026-03-26 10:00", InvoiceStatus.PAID),
        ("cat", "2026-03-27 10:00", InvoiceStatus.PAID),
        ("cat", "2026-03-28 10:00", InvoiceStatus.PAID),
        ("dan", "2026-03-27 10:00", InvoiceStatus.CANCELLED),
    ]
    for n, (who, when, status) in enumerate(paid, start=1):
        session.add(
            Invoice(
                merchant_id=MERCHANT, host_invoice_id=f"INV-{n}", customer_id=customer_ids[who],
                status=status, currency="EUR", total=Decimal("10.00"),
                merchant_total=Decimal("10.00"), paid_total=Decimal("10.00"),
                refunded_total=Decimal(0), items=[], paid_at=at(when),
            )
        )  # fmt: skip


def build_on(database_url: str) -> None:
    """The known shop on the database at ``database_url`` (the app's), committed."""
    plain = sa.create_engine(database_url, **engine_options(database_url))
    with Session(plain, expire_on_commit=False) as db:
        build_shop(db)
    plain.dispose()
