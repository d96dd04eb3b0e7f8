"""A merchant's expiry policy and the log of expiry reminders already sent.

One settings row per merchant, created on first change; a merchant without one keeps the
defaults of :class:`loyalty_plugin.domain.expiry.ExpiryPolicy` (points never expire,
reminders 30 and 7 days ahead). Programs (issue 5) will carry the same settings per program.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Date, Enum, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from loyalty_plugin.domain.expiry import DEFAULT_REMINDER_DAYS, ExpiryKind
from loyalty_plugin.models.base import Base, BigId, utcnow


class ExpirySettings(Base):
    """When a merchant's points expire and when customers are reminded."""

    __tablename__ = "expiry_settings"

    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), primary_key=True)
    #: The policy: ``never``, ``days_after_earning``, ``end_of_month``, ``end_of_year``,
    #: ``fixed_date``.
    kind: Mapped[ExpiryKind] = mapped_column(
        Enum(
            ExpiryKind,
            native_enum=False,
            length=24,
            values_callable=lambda e: [k.value for k in e],
        ),
        default=ExpiryKind.NEVER,
    )
    #: Days points last under ``days_after_earning``.
    days: Mapped[int | None] = mapped_column(Integer)
    #: Months added after the end of the month or year of earning.
    extra_months: Mapped[int] = mapped_column(Integer, default=0)
    #: The last day points earned before it count, under ``fixed_date``.
    fixed_date: Mapped[date | None] = mapped_column(Date)
    #: Expire everything after this many months without earning or spending (off if null).
    inactivity_months: Mapped[int | None] = mapped_column(Integer)
    #: Days before expiry at which reminders go, largest first: ``[30, 7]``.
    reminder_days: Mapped[list[int]] = mapped_column(
        JSON, default=lambda: list(DEFAULT_REMINDER_DAYS)
    )
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(128))


class ExpiryReminder(Base):
    """One reminder sent for one lot at one offset: the key that makes it happen once."""

    __tablename__ = "expiry_reminders"
    __table_args__ = (UniqueConstraint("merchant_id", "lot_id", "offset_days"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"), index=True)
    #: The reminder offset (days before expiry) this row stands for.
    offset_days: Mapped[int] = mapped_column(Integer)
    #: Points of the lot still unspent when the reminder went.
    points: Mapped[int] = mapped_column(BigInteger)
    #: The e-mail queued for it, if the customer could receive one.
    email_id: Mapped[int | None] = mapped_column(ForeignKey("email_messages.id"))
    sent_at: Mapped[datetime]
