"""What a host tells us: the typed content of a webhook, after validation.

The marshmallow schemas in :mod:`loyalty_plugin.schemas.webhooks` build these objects; the
handlers in :mod:`loyalty_plugin.services.intake.host_events` act on them. Money is ``Decimal``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from loyalty_plugin.domain.earning import InvoiceFacts

#: Every event type of contract v1 (and ``invoice.reinstated`` and ``invoice.refund_reversed``,
#: added by issue #16), in the order the documentation lists them.
EVENT_TYPES = (
    "customer.created",
    "customer.updated",
    "customer.birthday",
    "customer.merged",
    "invoice.paid",
    "invoice.payment_recorded",
    "invoice.refunded",
    "invoice.cancelled",
    "invoice.reinstated",
    "invoice.refund_reversed",
    "event.custom",
)


@dataclass(frozen=True, kw_only=True)
class CustomerProfile:
    """A customer as the host describes them; ``fields`` holds only what was sent."""

    id: str
    #: Profile fields by their model name (``group`` arrives as ``customer_group``).
    fields: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class Payment:
    """One payment recorded on an invoice, in the invoice's currency."""

    id: str
    amount: Decimal
    date: date | None = None


@dataclass(frozen=True, kw_only=True)
class RefundLine:
    """Part of an invoice line given back."""

    line_id: str
    qty: Decimal


@dataclass(frozen=True, kw_only=True)
class Refund:
    """Money given back on an invoice, by line when ``items`` are named."""

    id: str
    amount: Decimal
    items: tuple[RefundLine, ...] = ()


@dataclass(frozen=True, kw_only=True)
class CustomerEventData:
    """``customer.created`` and ``customer.updated``."""

    customer: CustomerProfile


@dataclass(frozen=True, kw_only=True)
class MergeData:
    """``customer.merged``: the host merged ``customer_id`` into ``into_customer_id``."""

    customer_id: str
    into_customer_id: str


@dataclass(frozen=True, kw_only=True)
class BirthdayData:
    """``customer.birthday``."""

    date: date
    #: The customer, by the host's id or by the loyalty card they hold (one at least).
    customer_id: str | None = None
    card_number: str | None = None


@dataclass(frozen=True, kw_only=True)
class InvoiceData:
    """``invoice.paid``, and ``invoice.payment_recorded`` with its ``payment``."""

    invoice: InvoiceFacts
    #: The invoice's embedded customer, when the host sent one instead of ``customer_id``.
    customer: CustomerProfile | None = None
    payment: Payment | None = None
    #: ``invoice.paid``: the payments that paid it, as the host names them (optional).
    payments: tuple[Payment, ...] = ()
    #: The loyalty card the till read, naming the customer (with or without their id).
    card_number: str | None = None


@dataclass(frozen=True, kw_only=True)
class RefundData:
    """``invoice.refunded``."""

    invoice_id: str
    refund: Refund


@dataclass(frozen=True, kw_only=True)
class RefundReversedData:
    """``invoice.refund_reversed``: the host undid refund ``refund_id`` of the invoice."""

    invoice_id: str
    refund_id: str


@dataclass(frozen=True, kw_only=True)
class CancelData:
    """``invoice.cancelled`` and ``invoice.reinstated``."""

    invoice_id: str


@dataclass(frozen=True, kw_only=True)
class CustomData:
    """``event.custom``: a host-defined action (a review written, a survey answered)."""

    name: str
    properties: dict[str, Any] = field(default_factory=dict)
    #: The customer, by the host's id or by the loyalty card they hold (one at least).
    customer_id: str | None = None
    card_number: str | None = None


@dataclass(frozen=True, kw_only=True)
class HostEvent:
    """One validated host event, as handlers and the ``host_event_received`` hook see it."""

    #: Primary key of the stored delivery (the inbox row).
    event_id: int
    #: The host's ``webhook-id`` (or the ``event_id`` a Python host passed).
    webhook_id: str
    type: str
    merchant_id: str
    occurred_at: datetime
    data: CustomerEventData | BirthdayData | InvoiceData | RefundData | CancelData | CustomData


def natural_key(kind: str, *parts: str) -> str:
    """An unambiguous key from host ids: ``:`` inside an id cannot fake another key.

    Ids are escaped (``%`` and ``:``); a key too long for its column becomes a SHA-256.
    """
    escaped = [str(p).replace("%", "%25").replace(":", "%3A") for p in parts]
    key = ":".join([kind, *escaped])
    if len(key) > 200:
        key = f"{kind}:sha256:{hashlib.sha256(key.encode()).hexdigest()}"
    return key


def registration_key(host_customer_id: str) -> str:
    """The fact "this customer registered", once whoever sees them first: first sight,
    ``customer.created`` or a customers import."""
    return natural_key("registration", host_customer_id)


def birthday_key(host_customer_id: str, year: int) -> str:
    """The fact "this customer's birthday bonus of ``year``", whoever counts it first."""
    return natural_key("birthday", host_customer_id, str(year))
