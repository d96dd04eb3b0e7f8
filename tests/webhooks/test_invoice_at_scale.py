"""An invoice event seeks the customer's rows through indexes, whatever the merchant holds.

PostgreSQL's plans, read with ``EXPLAIN (ANALYZE, BUFFERS)``, while 20,000 other customers
of the merchant each hold an account, a level and a paid invoice. A first purchase is
the worst case: whether the customer paid anything before is answered by finding nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty_plugin.models import Program
from loyalty_plugin.services.intake.webhooks import Answer
from tests.busy import fill_customers, truncated_afterwards  # noqa: F401 (a fixture)
from tests.plans import analyzed, heavy_statements, selects_of
from tests.webhooks.conftest import customer, event, invoice

pytestmark = [
    pytest.mark.backends("postgresql"),
    pytest.mark.usefixtures("truncated_afterwards"),
]


def test_a_first_and_a_second_invoice_read_few_pages_beside_many_customers(
    shop: Session, send: Callable[..., Answer], now: datetime
) -> None:
    """No statement of either event scans the merchant's customers, accounts or invoices."""
    default = shop.scalar(select(Program.id).where(Program.merchant_id == "shop"))
    fill_customers(shop, "shop", program_id=default, at=now - timedelta(days=30))
    analyzed(shop)
    answers = []
    with selects_of(shop) as statements:
        for number in (1, 2):
            data = {"invoice": invoice(f"INV-{number}", total="125.00"), "customer": customer()}
            answers.append(send(event("invoice.paid", data)))
    assert [answer.body["result"]["points_earned"] for answer in answers] == [12, 12], answers
    heavy = heavy_statements(shop, statements)
    assert not heavy, "\n".join(heavy)
