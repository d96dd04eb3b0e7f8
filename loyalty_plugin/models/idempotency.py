"""API idempotency records: the first answer to each ``Idempotency-Key``, kept for replays."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from loyalty_plugin.models.base import Base, BigId, utcnow
from loyalty_plugin.models.webhook_event import LongText


class IdempotencyStatus(enum.StrEnum):
    """Whether the first request with a key is still running."""

    IN_FLIGHT = "in_flight"
    DONE = "done"


class IdempotencyRecord(Base):
    """One ``Idempotency-Key`` of one API key: the request it came with and its answer."""

    __tablename__ = "idempotency_records"
    __table_args__ = (
        UniqueConstraint("merchant_id", "api_key_id", "key"),
        Index("ix_idempotency_records_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: The API key's own merchant (keys are scoped per API key).
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"))
    key: Mapped[str] = mapped_column(String(255))
    #: SHA-256 of the method, path and JSON body, to tell a retry from a reused key.
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[IdempotencyStatus] = mapped_column(
        Enum(
            IdempotencyStatus,
            native_enum=False,
            length=16,
            values_callable=lambda e: [k.value for k in e],
        )
    )
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[Any | None] = mapped_column(JSON)
    #: The first answer's exact text, replayed byte for byte (rows stored before it: the
    #: JSON above, serialised again).
    response_text: Mapped[str | None] = mapped_column(LongText)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None]
