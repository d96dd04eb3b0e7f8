"""Manual adjustments: staff credits and debits, with a reason and, when large, approval."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, Enum, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from loyalty_plugin.models.base import Base, BigId, utcnow
from loyalty_plugin.models.ledger import Account


class AdjustmentStatus(enum.StrEnum):
    """Whether an adjustment has taken effect."""

    #: Waiting for a second staff member (it exceeds the merchant's approval threshold).
    PENDING = "pending"
    #: Written to the ledger.
    APPLIED = "applied"
    #: Turned down by a second staff member; the ledger never saw it.
    REJECTED = "rejected"


class Adjustment(Base):
    """One request to credit or debit points by hand: who, why, who approved, what entry."""

    __tablename__ = "adjustments"
    __table_args__ = (
        Index("ix_adjustments_status", "merchant_id", "status", "id"),
        UniqueConstraint("merchant_id", "idempotency_key"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    #: Signed: positive credits, negative debits.
    points: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(500))
    #: Expiry of the lot a credit creates (``None``: never).
    expires_at: Mapped[datetime | None]
    status: Mapped[AdjustmentStatus] = mapped_column(
        Enum(
            AdjustmentStatus,
            native_enum=False,
            length=16,
            values_callable=lambda e: [k.value for k in e],
        )
    )
    #: The staff member who asked for it, and the one who approved or rejected it.
    requested_by: Mapped[str] = mapped_column(String(128))
    decided_by: Mapped[str | None] = mapped_column(String(128))
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str | None] = mapped_column(String(500))
    #: The ledger entry written when it was applied.
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"))
    #: The caller's one-time key (a staff form's ``form_key``): the same key asks once.
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    account: Mapped[Account] = relationship(lazy="joined")
