"""A refund and a reversal find what they undo through indexes, whatever the ledger holds.

PostgreSQL's plans, read with ``EXPLAIN (ANALYZE, BUFFERS)``, while another customer of the
merchant holds 20,000 entries and lots. Nothing indexed ``ledger_entries.reverses_entry_id``
(what an entry already undid is asked by it) nor a lot by its entry alone (the unique key
starts with the merchant): every refund and reversal read the whole ledger.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from loyalty_plugin.domain.rules import InvoiceView, LineView
from loyalty_plugin.services.earning import by_program as earning
from loyalty_plugin.services.earning.programs import update_program
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.ledger.integrity import verify_ledger
from loyalty_plugin.services.merchants.registration import create_merchant
from tests.busy import customer, fill, truncated_afterwards  # noqa: F401 (a fixture)
from tests.plans import analyzed, heavy_statements, selects_of

pytestmark = [
    pytest.mark.backends("postgresql"),
    pytest.mark.usefixtures("truncated_afterwards"),
]

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
INVOICE = InvoiceView(
    id="INV-1",
    currency="EUR",
    total=Decimal("1150.00"),
    lines=(LineView(id="L1", qty=Decimal(1), amount=Decimal("1150.00")),),
)


def test_a_refund_and_a_reversal_read_few_pages_beside_a_busy_customer(session: Session) -> None:
    """No statement of a refund or of a spend's reversal scans the merchant's ledger.

    The merchant's default program gives 1 point per 10.00: 115 on the invoice, 58 back on
    half of it, out of what is left of the invoice's lot."""
    create_merchant(session, merchant_id="shop", name="Shop", currency="EUR", now=NOW)
    update_program(session, merchant_id="shop", key="default", now=NOW - timedelta(days=1),
                   changes={"reversal": "reverse_remaining"}, actor="test")  # fmt: skip
    quiet = customer(session, "quiet")
    earning.earn_on_invoice(session, merchant_id="shop", customer=quiet.customer, invoice=INVOICE,
                            now=NOW, actor="test", paid_in_full=True)  # fmt: skip
    spent = ledger.spend(session, account_id=quiet.id, points=15, now=NOW, actor="test")
    fill(session, customer(session, "busy"), at=NOW - timedelta(days=100),
         expires_at=NOW + timedelta(days=20))  # fmt: skip
    analyzed(session)
    with selects_of(session) as statements:
        refunded = earning.refund_invoice(session, merchant_id="shop", invoice_id="INV-1",
                                          refund_id="R1", amount=Decimal("575.00"), now=NOW,
                                          actor="test")  # fmt: skip
        ledger.reverse(session, entry_id=spent.id, now=NOW, actor="test")
        session.flush()
    assert refunded.points_reversed == 58
    heavy = heavy_statements(session, statements)
    session.commit()
    assert verify_ledger(session) == []
    assert not heavy, "\n".join(heavy)
