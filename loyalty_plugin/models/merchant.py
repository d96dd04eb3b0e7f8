"""Merchant: the tenant every other row belongs to."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import Integer, String
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
    #: Bumped in every transaction that writes a cached setting of the merchant
    #: (``loyalty_plugin/services/settings_cache.py``); read with the row by each event.
    settings_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: Random, set when the row is inserted: a merchant created again (a restored backup,
    #: a wiped test database) is a new key of the settings cache even at version 0. Empty
    #: (a row inserted by hand) turns the cache off for the merchant.
    settings_token: Mapped[str] = mapped_column(
        String(32), default=lambda: secrets.token_hex(16), server_default=""
    )
