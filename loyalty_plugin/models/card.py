"""Loyalty cards: numbers made in batches (generated or imported), given to customers."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from loyalty_plugin.models.base import Base, BigId, utcnow


class CardStatus(enum.StrEnum):
    """Where a card is in its life."""

    #: Made (printed, or ready to print) and not given to anyone yet.
    AVAILABLE = "available"
    #: Held by a customer; its number finds them.
    ASSIGNED = "assigned"
    #: Stopped (lost, stolen, misused): its number finds no one for earning.
    BLOCKED = "blocked"
    #: Lost and replaced: blocked, with ``replaced_by`` the card that took its place.
    REPLACED = "replaced"


class CardSource(enum.StrEnum):
    """How a batch's numbers came to be."""

    #: Drawn here from a number scheme.
    GENERATED = "generated"
    #: Pre-printed numbers read from a CSV file.
    IMPORTED = "imported"


def _enum(kind: type[enum.StrEnum]) -> Enum:
    return Enum(kind, native_enum=False, length=16, values_callable=lambda e: [k.value for k in e])


class CardBatch(Base):
    """One generation or import of card numbers: the scheme, how many, who and when."""

    __tablename__ = "card_batches"
    __table_args__ = (UniqueConstraint("merchant_id", "request_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    source: Mapped[CardSource] = mapped_column(_enum(CardSource))
    #: The number scheme (for an import, the one its numbers were checked against).
    prefix: Mapped[str] = mapped_column(String(12), default="")
    length: Mapped[int | None] = mapped_column(Integer)
    check_digit: Mapped[str] = mapped_column(String(16))
    count: Mapped[int] = mapped_column(Integer)
    #: Who made it (``staff:12 Ana``, ``api:lk_ab12``...).
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: The idempotency key of the request that made it: a repeat returns this batch.
    request_key: Mapped[str | None] = mapped_column(String(255))


class Card(Base):
    """One card number of a merchant, and who holds it."""

    __tablename__ = "cards"
    __table_args__ = (
        # Also the index every look-up by number uses.
        UniqueConstraint("merchant_id", "number"),
        Index("ix_cards_batch", "merchant_id", "batch_id", "id"),
        Index("ix_cards_status", "merchant_id", "status", "id"),
        Index("ix_cards_customer", "merchant_id", "customer_id"),
        # The card a card replaced (its page), and the self-reference checked on a delete.
        Index("ix_cards_replaced_by", "replaced_by_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    #: Normalised: no spaces or dashes, letters upper-cased.
    number: Mapped[str] = mapped_column(String(64))
    status: Mapped[CardStatus] = mapped_column(_enum(CardStatus))
    batch_id: Mapped[int] = mapped_column(ForeignKey("card_batches.id"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    #: The card that took this one's place when it was reported lost.
    replaced_by_id: Mapped[int | None] = mapped_column(ForeignKey("cards.id"))
    #: Why it was blocked, as staff wrote it.
    block_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    assigned_at: Mapped[datetime | None]
    blocked_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
