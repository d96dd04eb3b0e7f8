"""Redemptions: points held against an invoice, then captured, released or expired."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Enum, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from loyalty_plugin.domain.ledger import POINTS
from loyalty_plugin.domain.money import from_minor, minor_digits
from loyalty_plugin.models.base import Base, BigId, utcnow
from loyalty_plugin.models.ledger import Account, LedgerEntry
from loyalty_plugin.models.program import Rate


class RedemptionStatus(enum.StrEnum):
    """Where a hold is in its life."""

    #: The points are set aside (a ``hold`` ledger entry took them from their lots).
    HELD = "held"
    #: The invoice was paid: the points are spent for good.
    CAPTURED = "captured"
    #: The hold was given back (a ``release`` entry returned the points to their lots).
    RELEASED = "released"
    #: Nobody captured the hold in time; the stale-holds job released it.
    EXPIRED = "expired"


class Redemption(Base):
    """Points a customer uses on one invoice, and the money they are worth on it.

    Capturing writes no ledger entry: the ``hold`` entry already took the points from their
    lots, so capture only marks this row and counts the points in the account's
    ``lifetime_redeemed``. A release or a refund reverses the hold entry, which puts the
    points back into the very lots they came from.
    """

    __tablename__ = "redemptions"
    __table_args__ = (
        UniqueConstraint("merchant_id", "hold_entry_id"),
        # One hold per invoice, whoever holds it: set while held, cleared when it ends.
        UniqueConstraint("merchant_id", "active_invoice_id"),
        Index("ix_redemptions_invoice", "merchant_id", "invoice_id"),
        Index("ix_redemptions_stale", "status", "expires_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    #: The host's invoice id.
    invoice_id: Mapped[str] = mapped_column(String(128))
    #: ``invoice_id`` while the hold is ``held``, else ``NULL``: its unique key lets one
    #: hold only per invoice, even when different customers hold at the same moment (a
    #: plain unique key, as MariaDB has no partial indexes; NULLs never collide).
    active_invoice_id: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[RedemptionStatus] = mapped_column(
        Enum(
            RedemptionStatus,
            native_enum=False,
            length=16,
            values_callable=lambda e: [k.value for k in e],
        )
    )
    #: ``points``, or the currency of the store credit this row holds (issue #19): then
    #: ``points`` and the ``*_points`` counts are minor units of that currency.
    unit: Mapped[str] = mapped_column(String(8), default="points", server_default="points")
    #: The redemption this credit row is part of (the one the host names and captures),
    #: ``None`` for that one. A hold of points and credit is one row per unit.
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("redemptions.id"), index=True)
    points: Mapped[int] = mapped_column(BigInteger)
    #: The discount the points (or the credit) give, in the invoice's currency.
    amount: Mapped[Decimal]
    currency: Mapped[str] = mapped_column(String(3))
    #: Value of one point in the invoice's currency (12 decimals kept).
    rate: Mapped[Decimal] = mapped_column(Rate())
    #: The invoice currency's rate to the merchant's currency.
    exchange_rate: Mapped[Decimal] = mapped_column(Rate())
    #: The ``hold`` ledger entry that took the points.
    hold_entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entries.id"))
    #: Points given back after capture by refunds or a cancellation.
    returned_points: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Points the last cancellation returned that did not expire again at once: what a
    #: reinstatement takes back (at most).
    cancel_returned: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    #: A hold still ``held`` at this time is released by the stale-holds job.
    expires_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    captured_at: Mapped[datetime | None]
    released_at: Mapped[datetime | None]

    account: Mapped[Account] = relationship(lazy="joined")
    hold_entry: Mapped[LedgerEntry] = relationship()
    #: The credit rows of this redemption, in currency order.
    parts: Mapped[list[Redemption]] = relationship(order_by="Redemption.unit")

    @property
    def credit_parts(self) -> list[Redemption]:
        """The rows of store credit: this one if it holds credit, then its parts."""
        return ([] if self.unit == POINTS else [self]) + list(self.parts)

    @property
    def points_held(self) -> int:
        """The points this redemption takes (0 when the lead holds credit alone)."""
        return self.points if self.unit == POINTS else 0

    @property
    def points_returned(self) -> int:
        """The points refunds gave back (0 when the lead holds credit alone)."""
        return self.returned_points if self.unit == POINTS else 0

    @property
    def returned_amount(self) -> Decimal:
        """What refunds gave back of a credit row, as money (points: their count)."""
        if self.unit == POINTS:
            return Decimal(self.returned_points)
        return from_minor(self.returned_points, self.unit)

    @property
    def money(self) -> Decimal:
        """``amount`` with the currency's digits (``10.00``, whatever the database keeps)."""
        return self.amount.quantize(Decimal(1).scaleb(-minor_digits(self.currency)))

    @property
    def discount(self) -> Decimal:
        """What the whole redemption takes off the invoice: points and credit (``amount``
        as stored when there is one row, as before credit)."""
        if not self.parts:
            return self.amount
        return self.money + sum((part.money for part in self.parts), Decimal(0))

    @property
    def values(self) -> list[dict[str, Any]]:
        """The held points by value (``points``, ``level``, ``rate``), as quoted."""
        quoted = (self.hold_entry.details or {}).get("redemption", {}).get("values", [])
        return [value | {"rate": Decimal(value["rate"])} for value in quoted]
