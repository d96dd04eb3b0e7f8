"""The customer page seeks its customer's rows through indexes, whatever others hold.

PostgreSQL's plans, read with ``EXPLAIN (ANALYZE, BUFFERS)``: every statement of a quiet
customer's page touches a handful of pages while another customer of the merchant holds
20,000 entries and lots. bench/admin.py found the points log reading the whole entries
index (or walking the primary key backwards), the lots of a page of entries found by a
scan of every lot, and the next expiry walking every lot in expiry order: 0.1 to 0.7 s
per page at 1,000,000 entries.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from loyalty_plugin.models import Account, Customer
from loyalty_plugin.services.customers.desk import customer_page
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.merchants.registration import create_merchant
from tests.plans import heavy_statements, selects_of

pytestmark = pytest.mark.backends("postgresql")

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
BUSY_ENTRIES = 20_000


def customer(session: Session, host_id: str) -> Account:
    person = Customer(merchant_id="shop", host_customer_id=host_id, first_name=host_id)
    session.add(person)
    session.flush()
    account = Account(merchant_id="shop", customer_id=person.id)
    session.add(account)
    session.flush()
    return account


def fill(session: Session, account: Account) -> None:
    """``BUSY_ENTRIES`` earn entries, each with a lot expiring within the month, in bulk."""
    at = NOW - timedelta(days=100)
    session.execute(
        text(
            "INSERT INTO ledger_entries (merchant_id, account_id, kind, points, balance_after, "
            "actor, created_at) SELECT 'shop', :account, 'earn', 1, n, 'test', :at "
            "FROM generate_series(1, :count) AS n"
        ),
        {"account": account.id, "at": at, "count": BUSY_ENTRIES},
    )
    session.execute(
        text(
            "INSERT INTO lots (merchant_id, account_id, entry_id, points, remaining, earned_at, "
            "available_from, expires_at) SELECT merchant_id, account_id, id, 1, 1, created_at, "
            "created_at, :soon FROM ledger_entries WHERE account_id = :account"
        ),
        {"account": account.id, "soon": NOW + timedelta(days=20)},
    )
    session.execute(
        text("UPDATE accounts SET balance = :count WHERE id = :account"),
        {"account": account.id, "count": BUSY_ENTRIES},
    )


def test_a_quiet_customers_page_reads_few_pages_beside_a_busy_one(session: Session) -> None:
    """No statement of the page scans the merchant's entries or lots."""
    create_merchant(session, merchant_id="shop", name="Shop", currency="EUR", now=NOW)
    quiet = customer(session, "quiet")
    for n in range(3):
        ledger.earn(session, account_id=quiet.id, points=10 + n, now=NOW - timedelta(days=200 - n),
                    actor="test", expires_at=NOW + timedelta(days=300))  # fmt: skip
    fill(session, customer(session, "busy"))
    session.commit()
    session.execute(text("ANALYZE ledger_entries, lots, accounts, customers"))
    session.commit()
    session.expunge_all()
    with selects_of(session) as statements:
        page = customer_page(session, merchant_id="shop", customer_id=quiet.customer_id, now=NOW)
    assert page.log.total == 3 and page.balance.balance == 33
    heavy = heavy_statements(session, statements)
    assert not heavy, "\n".join(heavy)


@pytest.fixture(autouse=True)
def _truncated_afterwards(session: Session) -> Iterator[None]:
    """The 40,000 rows emptied by ``TRUNCATE``: the shared clean-up deletes rows one by one
    (13 to 17 s for these)."""
    yield
    session.rollback()
    session.execute(text("TRUNCATE ledger_entries, lots CASCADE"))
    session.commit()
