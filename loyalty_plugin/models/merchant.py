"""Merchant: the tenant every other row belongs to."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from loyalty_plugin.models.base import Base, utcnow


class Merchant(Base):
    """Who issues points. A marketplace host has one merchant per seller."""

    __tablename__ = "merchants"

    #: The host's id for the merchant (``default`` for a single-business CRM).
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    #: ISO 4217 code of the merchant's own currency; points are valued in it.
    currency: Mapped[str] = mapped_column(String(3))
    #: IANA time zone used for calendar rules (birthdays, end-of-month expiry).
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: The latest end of the merchant's bonus campaigns not ended early (``None``: none):
    #: an invoice paid after it reads no campaign, so earning spends no query on them.
    bonus_campaigns_until: Mapped[datetime | None]
