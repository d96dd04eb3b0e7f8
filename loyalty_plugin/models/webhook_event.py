"""The inbox: every signed delivery, stored raw, and the natural keys of what it did.

A delivery is unique on (merchant, ``webhook-id``) for ever, so a host retrying for days
never counts an event twice. :class:`EventKey` makes the same guarantee one level up: the
same invoice, payment, refund or birthday sent under two ``webhook-id`` has one effect.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import Mapped, mapped_column

from loyalty_plugin.models.base import Base, BigId, utcnow

#: Raw bodies up to 16 MiB on MariaDB (its TEXT stops at 64 KiB).
LongText = Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")


class InboxStatus(enum.StrEnum):
    """Where a stored delivery stands."""

    #: Done: its effects are committed with this status.
    PROCESSED = "processed"
    #: To be (re)tried by the retry job at ``next_attempt_at`` after a passing failure.
    PENDING = "pending"
    #: Valid, but waits for its invoice or customer (``waiting_for``) to arrive.
    WAITING = "waiting"
    #: Invalid (bad JSON, failed validation, refused by a rule); never processed.
    REJECTED = "rejected"
    #: Gave up after the retry limit; an operator can retry it (``loyalty events retry``).
    DEAD = "dead"
    #: Stored by the high-load intake (``LOYALTY_WEBHOOK_INTAKE=queue``), not applied yet:
    #: a worker (``loyalty intake work``) applies it in a batch, in arrival order per lane.
    QUEUED = "queued"


def _enum(cls: type[enum.Enum]) -> Enum:
    return Enum(cls, native_enum=False, length=16, values_callable=lambda e: [k.value for k in e])


class WebhookEvent(Base):
    """One delivery from the host that passed the signature check, with its outcome."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        UniqueConstraint("merchant_id", "webhook_id"),
        Index("ix_webhook_events_due", "status", "next_attempt_at"),
        Index("ix_webhook_events_waiting", "merchant_id", "waiting_for"),
        Index("ix_webhook_events_received", "received_at"),
        # The queue: workers claim queued rows in arrival order, and look for an earlier
        # queued row of the same lane (customer) before applying one.
        Index("ix_webhook_events_queue", "status", "id"),
        Index("ix_webhook_events_lane", "lane", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    #: The host's ``webhook-id`` header (a Python host's ``event_id``).
    webhook_id: Mapped[str] = mapped_column(String(255))
    #: The body's ``type``, when it could be read.
    event_type: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[InboxStatus] = mapped_column(_enum(InboxStatus))
    #: ``webhook`` (signed HTTP) or ``python`` (called in-process by a Python host).
    source: Mapped[str] = mapped_column(String(16), default="webhook")
    #: The request headers as received (cookies and authorization left out).
    headers: Mapped[dict[str, str]] = mapped_column(JSON)
    #: The raw body, exactly as signed (a body that is not UTF-8 is kept with U+FFFD).
    body: Mapped[str] = mapped_column(LongText)
    #: SHA-256 of the raw body bytes: tells a true retry from a reused ``webhook-id``.
    body_sha256: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime | None]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None]
    #: Processing attempts that failed on something passing (a database error).
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    #: What a waiting event waits for: ``invoice:<id>`` or ``customer:<id>``.
    waiting_for: Mapped[str | None] = mapped_column(String(160))
    last_error: Mapped[str | None] = mapped_column(Text)
    #: The answer's ``result`` once processed, or its ``error`` once rejected.
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: The queue's ordering key, set by the high-load intake: ``customer:<host id>`` (or
    #: ``invoice:<id>`` for an event naming an invoice not known yet); events of one lane are
    #: applied in arrival order. ``None``: ordered with nothing.
    lane: Mapped[str | None] = mapped_column(String(160))


class EventKey(Base):
    """A business fact already counted: ``invoice.paid:<id>``, ``birthday:<customer>:<year>``."""

    __tablename__ = "event_keys"
    __table_args__ = (UniqueConstraint("merchant_id", "key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    key: Mapped[str] = mapped_column(String(255))
    #: The delivery that counted it (later copies point to it as ``duplicate_of``).
    event_id: Mapped[int | None] = mapped_column(ForeignKey("webhook_events.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
