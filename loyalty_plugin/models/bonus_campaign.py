"""Bonus campaigns (#18): time-boxed extra points with budgets, and what each gave.

Not coupon campaigns (:class:`~loyalty_plugin.models.coupon.CouponCampaign`).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from loyalty_plugin.models.base import Base, BigId, utcnow


class BonusCampaign(Base):
    """A campaign: conditions, window, multiplier or points, budget and what it gave.

    ``given`` is the budget's counter: it only grows, under the row's lock, and never past
    ``budget`` (see :mod:`loyalty_plugin.services.earning.bonus_campaigns`).
    """

    __tablename__ = "bonus_campaigns"
    __table_args__ = (
        UniqueConstraint("merchant_id", "key"),
        Index("ix_bonus_campaigns_window", "merchant_id", "ends_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    #: Stable name used by the program file and the API (``gold-shoes-weekend``).
    key: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    #: The program whose points it adds to; ``None``: the first program that earns.
    program_key: Mapped[str | None] = mapped_column(String(64))
    #: The rule conditions (when, where, channels, who, what), as the program schema stores them.
    conditions: Mapped[dict[str, Any]] = mapped_column(JSON)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    #: Times the program's points (``3``), or ``None`` for fixed ``points``.
    multiplier: Mapped[Decimal | None]
    #: Fixed extra points per invoice, or ``None`` for a ``multiplier``.
    points: Mapped[int | None] = mapped_column(Integer)
    #: The most points it may give in total, and to one customer (``None``: no limit).
    budget: Mapped[int | None] = mapped_column(BigInteger)
    budget_per_customer: Mapped[int | None] = mapped_column(BigInteger)
    #: Higher first when several campaigns apply to one invoice (and share a budget's end).
    priority: Mapped[int] = mapped_column(Integer, default=0)
    #: Points granted so far (the budget's counter).
    given: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Set when staff ended it early (``ends_at`` is moved to that moment too).
    ended_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class BonusCampaignGrant(Base):
    """What one campaign gave on one invoice: once per invoice, counted against the budget
    per customer (the customer's account is locked while it is written)."""

    __tablename__ = "bonus_campaign_grants"
    __table_args__ = (
        UniqueConstraint("campaign_id", "invoice_id"),
        Index("ix_bonus_campaign_grants_account", "campaign_id", "account_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    campaign_id: Mapped[int] = mapped_column(ForeignKey("bonus_campaigns.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    invoice_id: Mapped[str] = mapped_column(String(64))
    #: Points the campaign wanted to give, and those its budget let it give.
    wanted: Mapped[int] = mapped_column(BigInteger)
    points: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
