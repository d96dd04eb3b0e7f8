"""The customer page seeks its customer's rows through indexes, whatever others hold.

PostgreSQL's plans, read with ``EXPLAIN (ANALYZE, BUFFERS)``: every statement of a quiet
customer's page touches a handful of pages while another customer of the merchant holds
20,000 entries and lots. bench/admin.py found the points log reading the whole entries
index (or walking the primary key backwards), the lots of a page of entries found by a
scan of every lot, and the next expiry walking every lot in expiry order: 0.1 to 0.7 s
per page at 1,000,000 entries.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from loyalty_plugin.services.customers.desk import customer_page
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.merchants.registration import create_merchant
from tests.busy import customer, fill, truncated_afterwards  # noqa: F401 (a fixture)
from tests.plans import analyzed, heavy_statements, selects_of

pytestmark = [
    pytest.mark.backends("postgresql"),
    pytest.mark.usefixtures("truncated_afterwards"),
]

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def test_a_quiet_customers_page_reads_few_pages_beside_a_busy_one(session: Session) -> None:
    """No statement of the page scans the merchant's entries or lots."""
    create_merchant(session, merchant_id="shop", name="Shop", currency="EUR", now=NOW)
    quiet = customer(session, "quiet")
    for n in range(3):
        ledger.earn(session, account_id=quiet.id, points=10 + n, now=NOW - timedelta(days=200 - n),
                    actor="test", expires_at=NOW + timedelta(days=300))  # fmt: skip
    fill(session, customer(session, "busy"), at=NOW - timedelta(days=100),
         expires_at=NOW + timedelta(days=20))  # fmt: skip
    analyzed(session)
    with selects_of(session) as statements:
        page = customer_page(session, merchant_id="shop", customer_id=quiet.customer_id, now=NOW)
    assert page.log.total == 3 and page.balance.balance == 33
    heavy = heavy_statements(session, statements)
    assert not heavy, "\n".join(heavy)
