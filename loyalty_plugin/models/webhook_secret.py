"""Webhook signing secrets: several per merchant may be active, so a host can rotate."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from loyalty_plugin.models.base import Base, BigId, utcnow


class WebhookSecret(Base):
    """A ``whsec_`` secret shared with the host: it signs webhooks both ways."""

    __tablename__ = "webhook_secrets"
    __table_args__ = (Index("ix_webhook_secrets_active", "merchant_id", "revoked_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    #: The secret itself: HMAC needs it in clear, so the database must be kept private.
    secret: Mapped[str] = mapped_column(String(100))
    #: A note for operators ("perfex production", "rotation 2026-03").
    label: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Set when revoked; a revoked secret neither verifies nor signs.
    revoked_at: Mapped[datetime | None]

    @property
    def hint(self) -> str:
        """The secret's first characters, to tell secrets apart without showing them."""
        return self.secret[:10] + "…"
