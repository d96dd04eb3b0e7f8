"""E-mail: merchants' template edits and the outbox messages wait in until they are sent.

A message is written in the transaction of the change that caused it (points earned, a
reminder due) and sent after commit by the ``send-emails`` job. Its ``dedupe_key`` is
unique per merchant, so the same message is never queued twice; each try is kept as an
:class:`EmailAttempt`.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import Mapped, mapped_column

from loyalty_plugin.models.base import Base, BigId, utcnow

#: Text up to 16 MB: MariaDB's plain TEXT stops at 64 KB, too little for some HTML mail.
LongText = Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")


class EmailStatus(enum.StrEnum):
    """Where a queued message stands."""

    #: Waiting for its next attempt (``next_attempt_at``).
    QUEUED = "queued"
    #: Accepted by the SMTP server (and handed to the SMS hook, if any).
    SENT = "sent"
    #: Given up: a permanent refusal, or every attempt used.
    FAILED = "failed"
    #: Taken out of the queue by staff before it was sent; never sent.
    CANCELLED = "cancelled"


def _enum(cls: type[enum.Enum]) -> Enum:
    return Enum(cls, native_enum=False, length=16, values_callable=lambda e: [k.value for k in e])


class EmailTemplate(Base):
    """A merchant's edit of one default template; deleting it resets to the default."""

    __tablename__ = "email_templates"
    __table_args__ = (UniqueConstraint("merchant_id", "name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    #: The template's name (``points_expiring``...), as in ``email_templates/<name>/``.
    name: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(500))
    body_text: Mapped[str] = mapped_column(LongText)
    body_html: Mapped[str] = mapped_column(LongText)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(128))


class EmailMessage(Base):
    """One message to one customer: its data, then what was rendered and sent."""

    __tablename__ = "email_messages"
    __table_args__ = (
        UniqueConstraint("merchant_id", "dedupe_key"),
        Index("ix_email_messages_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    #: The template it is rendered from.
    template: Mapped[str] = mapped_column(String(32))
    #: What it is about, unique per merchant (``points_expired:entry:42``).
    dedupe_key: Mapped[str] = mapped_column(String(160))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    #: The e-mail address, when consent allows an e-mail.
    to_address: Mapped[str | None] = mapped_column(String(254))
    #: The phone number for the SMS hook, when the customer consented to SMS.
    sms_to: Mapped[str | None] = mapped_column(String(32))
    #: The template variables, as tagged JSON (see ``loyalty_plugin.email.context``).
    context: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: The ``Message-ID`` header, set on the first attempt and the same on every retry, so
    #: receivers can deduplicate.
    message_id: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[EmailStatus] = mapped_column(_enum(EmailStatus), default=EmailStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    #: A sender holds the message until this time; another may take it only afterwards.
    claimed_until: Mapped[datetime | None]
    #: Rendered on the first attempt and kept, so every retry sends the same text.
    subject: Mapped[str | None] = mapped_column(String(500))
    body_text: Mapped[str | None] = mapped_column(LongText)
    body_html: Mapped[str | None] = mapped_column(LongText)
    #: Whether the SMS hook has been called for this message.
    sms_done: Mapped[bool] = mapped_column(Boolean, default=False)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class EmailAttempt(Base):
    """One try at delivering a message, kept for the admin pages."""

    __tablename__ = "email_attempts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    email_id: Mapped[int] = mapped_column(ForeignKey("email_messages.id"), index=True)
    attempted_at: Mapped[datetime]
    #: ``smtp`` or ``sms``.
    channel: Mapped[str] = mapped_column(String(8))
    succeeded: Mapped[bool] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(String(500))
    duration_ms: Mapped[int] = mapped_column(Integer)
