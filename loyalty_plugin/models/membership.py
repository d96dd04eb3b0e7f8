"""Membership levels: each customer's current level per program, and its history."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, Enum, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from loyalty_plugin.domain.levels import Source
from loyalty_plugin.models.base import Base, BigId, utcnow


class Membership(Base):
    """A customer's level in one program: earned, or bought or given until a date."""

    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("account_id", "program_id"),
        Index("ix_memberships_review", "program_id", "review_at"),
        Index("ix_memberships_expiry", "program_id", "expires_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    #: The level held now (a key of the program's ``levels.tiers``).
    level: Mapped[str] = mapped_column(String(64))
    #: The level the qualifying amount gives (what a bought or given level falls back to).
    earned_level: Mapped[str] = mapped_column(String(64))
    source: Mapped[Source] = mapped_column(
        Enum(Source, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])
    )
    #: The qualifying amount when last evaluated.
    amount: Mapped[Decimal]
    #: Since when ``level`` is held.
    since: Mapped[datetime]
    #: When a bought or given level ends.
    expires_at: Mapped[datetime | None]
    #: When the earned level is reviewed (the review downgrade policy only).
    review_at: Mapped[datetime | None]
    #: The program version the level was last decided under.
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class LevelHistory(Base):
    """One move between levels (append-only): from, to, why, when and who or which rule."""

    __tablename__ = "level_history"
    __table_args__ = (Index("ix_level_history_account", "account_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    from_level: Mapped[str | None] = mapped_column(String(64))
    to_level: Mapped[str] = mapped_column(String(64))
    #: ``upgrade``, ``below threshold``, ``review``, ``bought``, ``given``, ``expired``...
    reason: Mapped[str] = mapped_column(String(255))
    #: Who (staff, API key) or which job or event caused it.
    actor: Mapped[str] = mapped_column(String(255))
    version: Mapped[int] = mapped_column(Integer)
    #: The qualifying amount at the time.
    amount: Mapped[Decimal | None]
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: A spend entry paying for a bought level.
    entry_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("ledger_entries.id"))
    at: Mapped[datetime]
