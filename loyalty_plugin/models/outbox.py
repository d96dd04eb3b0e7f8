"""Webhooks out: the host's endpoint, the outbox written with each change, and attempts."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Enum, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from loyalty_plugin.models.base import Base, BigId, utcnow


class OutboxStatus(enum.StrEnum):
    """Where an outgoing message stands."""

    #: To be posted at ``next_attempt_at``.
    PENDING = "pending"
    #: The host answered 2xx.
    DELIVERED = "delivered"
    #: Gave up after the attempt limit; ``loyalty outbox retry`` sends it again.
    DEAD = "dead"


class WebhookEndpoint(Base):
    """Where a merchant's host wants to hear about points: one URL per merchant."""

    __tablename__ = "webhook_endpoints"

    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), primary_key=True)
    url: Mapped[str] = mapped_column(String(500))
    #: A disabled endpoint gets no new messages; queued ones wait until it is enabled.
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    #: The outgoing event types it receives; ``None``: all of them.
    event_types: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class OutboxMessage(Base):
    """One outgoing webhook, written in the transaction of the change it reports."""

    __tablename__ = "outbox_messages"
    __table_args__ = (Index("ix_outbox_messages_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    #: The ``webhook-id`` the host sees; the same on every retry, so it can deduplicate.
    message_id: Mapped[str] = mapped_column(String(64), unique=True)
    #: ``points.earned``, ``coupon.created``...
    event_type: Mapped[str] = mapped_column(String(64))
    #: The JSON body posted (``type``, ``timestamp``, ``merchant_id``, ``data``).
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[OutboxStatus] = mapped_column(
        Enum(
            OutboxStatus,
            native_enum=False,
            length=16,
            values_callable=lambda e: [k.value for k in e],
        )
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))


class OutboxAttempt(Base):
    """One try at posting a message, kept for operators."""

    __tablename__ = "outbox_attempts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("outbox_messages.id"), index=True)
    url: Mapped[str] = mapped_column(String(500))
    attempted_at: Mapped[datetime]
    #: The host's HTTP status, or ``None`` when no answer came (refused, timed out).
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(500))
    duration_ms: Mapped[int] = mapped_column(Integer)
