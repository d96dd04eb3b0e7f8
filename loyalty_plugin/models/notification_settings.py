"""A merchant's customer-message settings: which e-mails go, consent, locale.

One row per merchant, created on first change; without one the defaults of
:class:`loyalty_plugin.domain.notifications.NotificationPrefs` apply (every message on,
service e-mails without marketing consent, English formatting).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from loyalty_plugin.models.base import Base, utcnow


class NotificationSettings(Base):
    """Switches per message, consent for service e-mails, and formatting locale."""

    __tablename__ = "notification_settings"

    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), primary_key=True)
    #: The points-earned receipt.
    points_earned: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Reminders before points expire.
    points_expiring: Mapped[bool] = mapped_column(Boolean, default=True)
    #: The notice after points expired.
    points_expired: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Reminders before store credit expires (#19).
    credit_expiring: Mapped[bool] = mapped_column(Boolean, default=True)
    #: The notice after store credit expired (#19).
    credit_expired: Mapped[bool] = mapped_column(Boolean, default=True)
    #: The level-changed notice.
    level_changed: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Reminders before a coupon expires.
    coupon_expiring: Mapped[bool] = mapped_column(Boolean, default=True)
    #: The birthday greeting (marketing).
    birthday: Mapped[bool] = mapped_column(Boolean, default=True)
    #: The welcome e-mail on enrolment (marketing).
    welcome: Mapped[bool] = mapped_column(Boolean, default=True)
    #: A new portal link by e-mail, sent on request (staff, the API, the expired-link page).
    portal_link: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Send service e-mails (receipts, warnings) only to customers who opted in.
    service_needs_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Days before a coupon expires that its reminder goes.
    coupon_reminder_days: Mapped[int] = mapped_column(Integer, default=7)
    #: Babel locale for numbers, money and dates in e-mails.
    locale: Mapped[str] = mapped_column(String(16), default="en")
    #: Reply-To address of the merchant's e-mails (none: replies go to the sender).
    reply_to: Mapped[str | None] = mapped_column(String(254))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(128))
