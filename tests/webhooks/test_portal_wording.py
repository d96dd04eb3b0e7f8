"""The portal's points history in a customer's words (#17), from events through the intake.

Tried as a new customer would, the history read "Registration registration:c1",
"Correction · Invoice 9001" for a refund, "Points reserved for an order" for points long
spent, and the host's invoice id where the customer knows the number sent with it.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from loyalty_plugin.domain.redemption import DraftInvoice
from loyalty_plugin.models import Account, Customer
from loyalty_plugin.services.customers import portal
from loyalty_plugin.services.spending.redemption import hold_points, release_redemption
from tests.webhooks.conftest import customer, event, invoice


def history(session) -> list[tuple[str, str | None, str | None, str | None]]:
    """(label, reference, number, reason) of every entry, oldest first."""
    session.expire_all()
    account = session.scalars(
        select(Account).join(Customer).where(Customer.host_customer_id == "c1")
    ).one()
    lines = portal.points_log(session, account, page=1).lines
    return [(x.label, x.reference, x.number, x.reason) for x in reversed(lines)]


def hold(session, now, invoice_id: str, points: int):
    held = hold_points(
        session, merchant_id="shop", customer_id="c1", now=now, actor="api",
        invoice=DraftInvoice(id=invoice_id, currency="EUR", total=Decimal("100")), points=points,
    )  # fmt: skip
    session.commit()
    return held


def test_every_label_is_written_for_the_customer(send, shop, now) -> None:
    """Welcome bonus, invoice numbers, a refund of which invoice, holds spent or returned."""
    send(event("customer.created", {"customer": customer()}))
    paid = invoice("9001", total="1000.00", number="INV-2026-9001")
    assert send(event("invoice.paid", {"invoice": paid})).body["result"]["points_earned"] == 100
    send(event("invoice.created", {"invoice": invoice("9002", number="INV-2026-9002")}))
    hold(shop, now, "9002", 30)
    send(event("invoice.paid", {"invoice": invoice("9002", number="INV-2026-9002")}))
    released = hold(shop, now, "9003", 20)
    release_redemption(shop, merchant_id="shop", redemption_id=released.id, now=now, actor="t")
    shop.commit()
    refund = {"invoice_id": "9001", "refund": {"id": "R1", "amount": "500.00"}}
    send(event("invoice.refunded", refund))

    lines = history(shop)
    assert lines[0] == ("Welcome bonus", None, None, None)
    assert lines[1] == ("Points earned", "Invoice", "INV-2026-9001", None)
    assert ("Points spent", "Invoice", "INV-2026-9002", None) in lines
    assert ("Points reserved, then returned", "Invoice", "9003", None) in lines
    assert lines[-1] == ("Points taken back (refund)", "Invoice", "INV-2026-9001", None)
    shown = " ".join(str(part) for line in lines for part in line)
    for internal in ("registration", "c1", "Correction", "reserved for an order", "version"):
        assert internal not in shown
