"""Host invoices as far as points are concerned: totals, payments, refunds, points earned."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, Enum, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from loyalty_plugin.models.base import Base, BigId, utcnow


class InvoiceStatus(enum.StrEnum):
    """The invoice's state as the host reported it."""

    #: Known (a payment was recorded) but not fully paid: nothing earned yet.
    OPEN = "open"
    #: Paid: points were earned on it (once).
    PAID = "paid"
    #: Cancelled: whatever it earned was reversed; it earns nothing any more.
    CANCELLED = "cancelled"


class Invoice(Base):
    """One host invoice of one merchant; the row locked while its events are processed."""

    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("merchant_id", "host_invoice_id"),
        # The dashboard's repeat orders: invoices paid in a period, read from the index alone.
        Index("ix_invoices_paid", "merchant_id", "paid_at", "status", "customer_id"),
        # A customer's invoices: every invoice event asks whether they paid one before.
        Index("ix_invoices_customer", "customer_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    #: The host's invoice id.
    host_invoice_id: Mapped[str] = mapped_column(String(64))
    number: Mapped[str | None] = mapped_column(String(64))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    status: Mapped[InvoiceStatus] = mapped_column(
        Enum(
            InvoiceStatus,
            native_enum=False,
            length=16,
            values_callable=lambda e: [k.value for k in e],
        )
    )
    #: ISO 4217 code of the amounts below.
    currency: Mapped[str] = mapped_column(String(3))
    total: Mapped[Decimal]
    #: The total in the merchant's currency: what points are earned on.
    merchant_total: Mapped[Decimal]
    #: Sum of the payments recorded, in ``currency``.
    paid_total: Mapped[Decimal]
    #: Money value given back by refunds so far, in ``currency``.
    refunded_total: Mapped[Decimal]
    #: Points the invoice earned (before reversals).
    points_earned: Mapped[int] = mapped_column(BigInteger, default=0)
    earn_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"))
    #: The invoice lines as the host sent them (refunds by line are valued with them).
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    paid_at: Mapped[datetime | None]
    #: When the host says the invoice was paid (the paying event's ``occurred_at``).
    paid_occurred_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
