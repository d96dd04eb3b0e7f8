"""The lane of a queued host event: the key its arrival order is kept within.

The high-load intake stores events without validating them; workers apply them in batches,
and events of one lane in arrival order. A lane is the customer an event is about
(``customer:<host id>``), read cheaply from the raw body. An event that names only an
invoice (a refund, a cancellation) takes its invoice's customer when the invoice is known,
else ``invoice:<id>`` (it would wait for that invoice anyway, and the invoice releases it).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from loyalty_plugin.models import Customer, Invoice

#: Longest lane stored (the column's length).
MAX_LANE = 160
#: How a customer's lane starts; the host's customer id follows.
CUSTOMER_LANE = "customer:"


def lane_of(db: Session | Connection, document: Any, *, merchant_id: str) -> str | None:
    """The lane of a parsed event body; ``None`` when it names no customer nor invoice.

    ``db``: a session, or the connection of the queue's intake without a transaction."""
    if not isinstance(document, dict) or not isinstance(document.get("data"), dict):
        return None
    data = document["data"]
    customer = _customer_named(data)
    if customer is not None:
        return _lane("customer", customer)
    invoice_id = data.get("invoice_id")
    if not _is_id(invoice_id):
        return None
    owner = db.scalar(
        select(Customer.host_customer_id)
        .join(Invoice, Invoice.customer_id == Customer.id)
        .where(Invoice.merchant_id == merchant_id, Invoice.host_invoice_id == str(invoice_id))
    )
    return _lane("customer", owner) if owner is not None else _lane("invoice", invoice_id)


def _customer_named(data: dict[str, Any]) -> Any:
    """The host customer id the event's data names first, if any."""
    invoice = data.get("invoice")
    if isinstance(invoice, dict):
        if _is_id(invoice.get("customer_id")):
            return invoice["customer_id"]
        data = invoice
    customer = data.get("customer")
    if isinstance(customer, dict) and _is_id(customer.get("id")):
        return customer["id"]
    if _is_id(data.get("customer_id")):
        return data["customer_id"]
    return None


def _is_id(value: Any) -> bool:
    return isinstance(value, str | int) and not isinstance(value, bool) and str(value) != ""


def _lane(kind: str, value: Any) -> str:
    return f"{kind}:{value}"[:MAX_LANE]
