"""The audit trail: one row per change made by staff, an API key, the CLI or the host."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from loyalty_plugin.models.base import Base, BigId


class AuditEntry(Base):
    """Who changed what, when, and the thing before and after (append-only).

    Written in the same transaction as the change it describes, so it exists exactly when
    the change does. Listed newest first (by ``occurred_at``, then ``id``): every search
    index ends in those two columns, so a page is read in order, never sorted.
    """

    __tablename__ = "audit_entries"
    __table_args__ = (
        Index("ix_audit_entries_merchant", "merchant_id", "occurred_at", "id"),
        Index(
            "ix_audit_entries_actor", "merchant_id", "actor_kind", "actor_id", "occurred_at", "id"
        ),
        Index("ix_audit_entries_action", "merchant_id", "action", "occurred_at", "id"),
        Index(
            "ix_audit_entries_target",
            "merchant_id",
            "target_type",
            "target_id",
            "occurred_at",
            "id",
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    #: When the change was made (the service's clock).
    occurred_at: Mapped[datetime]
    #: ``staff``, ``api_key``, ``cli``, ``host``, ``customer`` or ``system``.
    actor_kind: Mapped[str] = mapped_column(String(16))
    #: The staff member's id, the API key's prefix, the operating-system user.
    actor_id: Mapped[str] = mapped_column(String(128))
    #: A readable name, as it was when the change was made.
    actor_name: Mapped[str] = mapped_column(String(200))
    #: ``<thing>.<verb>``, such as ``adjustment.approved`` or ``api_key.revoked``.
    action: Mapped[str] = mapped_column(String(64))
    #: What was changed: a type (``adjustment``, ``program``) and its id within the merchant.
    target_type: Mapped[str] = mapped_column(String(64))
    target_id: Mapped[str] = mapped_column(String(128))
    #: The thing's fields before and after the change (``None``: created / removed).
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: The HTTP request that made it, when there was one.
    request_id: Mapped[str | None] = mapped_column(String(64))
    address: Mapped[str | None] = mapped_column(String(45))
