"""Spending points seeks the customer's rows through indexes, whatever the merchant holds.

PostgreSQL's plans, read with ``EXPLAIN (ANALYZE, BUFFERS)``: a quote, a hold captured by
the invoice's payment and a hold released, while 20,000 other customers each hold an
account, a level and a paid invoice, and one more holds 20,000 entries and lots.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.redemption import DraftInvoice
from loyalty_plugin.models import Program
from loyalty_plugin.services.intake.webhooks import Answer
from loyalty_plugin.services.ledger.integrity import verify_ledger
from loyalty_plugin.services.spending import redemption
from tests.busy import customer, fill, fill_customers, truncated_afterwards  # noqa: F401
from tests.plans import analyzed, heavy_statements, selects_of
from tests.webhooks.conftest import event, invoice

pytestmark = [
    pytest.mark.backends("postgresql"),
    pytest.mark.usefixtures("truncated_afterwards"),
]


def draft(invoice_id: str) -> DraftInvoice:
    return DraftInvoice(id=invoice_id, currency="EUR", total=Decimal("100.00"))


def test_a_quote_a_capture_and_a_release_read_few_pages_beside_many_customers(
    shop: Session, send: Callable[..., Answer], now: datetime
) -> None:
    """No statement of the three scans the merchant's customers, accounts, entries or lots."""
    first = send(event("invoice.paid", {"invoice": invoice("INV-0", total="1000.00")}))
    assert first.body["result"]["points_earned"] == 100, first.body
    default = shop.scalar(select(Program.id).where(Program.merchant_id == "shop"))
    fill_customers(shop, "shop", program_id=default, at=now - timedelta(days=30))
    fill(
        shop,
        customer(shop, "busy"),
        at=now - timedelta(days=30),
        expires_at=now + timedelta(days=300),
    )
    analyzed(shop)
    with selects_of(shop) as statements:
        quote = redemption.quote_checkout(shop, merchant_id="shop", customer_id="c1",
                                          invoice=draft("INV-1"), now=now)  # fmt: skip
        redemption.hold_points(shop, merchant_id="shop", customer_id="c1", invoice=draft("INV-1"),
                               now=now, actor="test", points=30)  # fmt: skip
        shop.commit()
        paid = send(event("invoice.paid", {"invoice": invoice("INV-1", total="99.70")}))
        held = redemption.hold_points(shop, merchant_id="shop", customer_id="c1", points=20,
                                      invoice=draft("INV-2"), now=now, actor="test")  # fmt: skip
        redemption.release_redemption(shop, merchant_id="shop", redemption_id=held.id, now=now,
                                      actor="test")  # fmt: skip
        shop.commit()
    assert quote.points.points == quote.points.balance == 150  # all of it: 1.50 of 100.00
    assert paid.body["result"]["redemption"]["status"] == "captured", paid.body
    heavy = heavy_statements(shop, statements)
    assert verify_ledger(shop) == []
    assert not heavy, "\n".join(heavy)
