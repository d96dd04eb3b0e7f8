"""A merchant with one busy customer, for tests that hold a statement to a few pages.

The busy customer's entries and lots are written in bulk (``generate_series``, PostgreSQL),
and ``truncated_afterwards`` empties them with ``TRUNCATE``: the shared clean-up deletes
rows one by one (13 to 17 s for 40,000).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from loyalty_plugin.models import Account, Customer

BUSY_ENTRIES = 20_000


def customer(session: Session, host_id: str, merchant_id: str = "shop") -> Account:
    """A customer of ``merchant_id`` and their points account."""
    person = Customer(merchant_id=merchant_id, host_customer_id=host_id, first_name=host_id)
    session.add(person)
    session.flush()
    account = Account(merchant_id=merchant_id, customer_id=person.id)
    session.add(account)
    session.flush()
    return account


def fill(session: Session, account: Account, *, at: datetime, expires_at: datetime) -> None:
    """:data:`BUSY_ENTRIES` one-point earn entries made ``at``, each with its lot."""
    session.execute(
        text(
            "INSERT INTO ledger_entries (merchant_id, account_id, kind, points, balance_after, "
            "actor, created_at) SELECT :merchant, :account, 'earn', 1, n, 'test', :at "
            "FROM generate_series(1, :count) AS n"
        ),
        {
            "merchant": account.merchant_id,
            "account": account.id,
            "at": at,
            "count": BUSY_ENTRIES,
        },
    )
    session.execute(
        text(
            "INSERT INTO lots (merchant_id, account_id, entry_id, points, remaining, earned_at, "
            "available_from, expires_at) SELECT merchant_id, account_id, id, 1, 1, created_at, "
            "created_at, :expires_at FROM ledger_entries WHERE account_id = :account"
        ),
        {"account": account.id, "expires_at": expires_at},
    )
    session.execute(
        text("UPDATE accounts SET balance = :count WHERE id = :account"),
        {"account": account.id, "count": BUSY_ENTRIES},
    )


def fill_customers(session: Session, merchant_id: str, *, program_id: int, at: datetime) -> None:
    """:data:`BUSY_ENTRIES` customers of ``merchant_id``, each with an account, a paid
    invoice and a level in ``program_id``."""
    for statement in (
        "INSERT INTO customers (merchant_id, host_customer_id, first_name, enrolled, "
        "email_opt_in, sms_opt_in, created_at, updated_at) SELECT :merchant, 'busy-' || n, "
        "'Busy', true, false, false, :at, :at FROM generate_series(1, :count) AS n",
        "INSERT INTO accounts (merchant_id, customer_id, balance, lifetime_earned, "
        "lifetime_redeemed, lifetime_expired, created_at, updated_at) SELECT merchant_id, id, "
        "0, 0, 0, 0, :at, :at FROM customers WHERE merchant_id = :merchant "
        "AND host_customer_id LIKE 'busy-%'",
        "INSERT INTO invoices (merchant_id, host_invoice_id, customer_id, status, currency, "
        "total, merchant_total, paid_total, refunded_total, points_earned, items, paid_at, "
        "created_at, updated_at) SELECT merchant_id, 'B-' || id, customer_id, 'paid', 'EUR', "
        "10, 10, 10, 0, 1, '[]', :at, :at, :at FROM accounts WHERE merchant_id = :merchant",
        "INSERT INTO memberships (merchant_id, program_id, account_id, level, earned_level, "
        "source, amount, since, version, updated_at) SELECT merchant_id, :program, id, "
        "'silver', 'silver', 'earned', 10, :at, 1, :at FROM accounts "
        "WHERE merchant_id = :merchant",
    ):
        session.execute(
            text(statement),
            {"merchant": merchant_id, "program": program_id, "at": at, "count": BUSY_ENTRIES},
        )


@pytest.fixture
def truncated_afterwards(session: Session) -> Iterator[None]:
    """Entries, lots, customers and what hangs on them emptied by ``TRUNCATE`` after the test."""
    yield
    session.rollback()
    session.execute(
        text("TRUNCATE ledger_entries, lots, memberships, invoices, accounts, customers CASCADE")
    )
    session.commit()
