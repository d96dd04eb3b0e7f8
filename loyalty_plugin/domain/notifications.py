"""Which customer messages a merchant sends, and to whom consent allows them.

Every message is either a *service* message (a receipt, an expiry warning: about the
customer's own points or store credit), a *marketing* one (a greeting, a welcome:
promotional), or an *access* one (a portal link the customer or staff asked for).
Marketing goes only to customers who opted in; service messages follow the merchant's
setting; access messages go to the address on file whatever the consents, as a password
reset would.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from babel import Locale, UnknownLocaleError

from loyalty_plugin.domain.errors import ValidationError


class Category(enum.StrEnum):
    """Why a message is sent, which decides the consent it needs."""

    #: About the customer's own points; sent unless the merchant asks for consent.
    SERVICE = "service"
    #: Promotional; sent only with the customer's marketing consent, with an unsubscribe link.
    MARKETING = "marketing"
    #: Asked for (a portal link): sent to the address on file whatever the consents.
    ACCESS = "access"


class Message(enum.StrEnum):
    """Every message the plugin can send; the value is the template's folder name."""

    POINTS_EARNED = "points_earned"
    POINTS_EXPIRING = "points_expiring"
    POINTS_EXPIRED = "points_expired"
    CREDIT_EXPIRING = "credit_expiring"
    CREDIT_EXPIRED = "credit_expired"
    LEVEL_CHANGED = "level_changed"
    COUPON_EXPIRING = "coupon_expiring"
    BIRTHDAY = "birthday"
    WELCOME = "welcome"
    PORTAL_LINK = "portal_link"


#: The category of each message.
CATEGORIES: dict[Message, Category] = {
    Message.POINTS_EARNED: Category.SERVICE,
    Message.POINTS_EXPIRING: Category.SERVICE,
    Message.POINTS_EXPIRED: Category.SERVICE,
    Message.CREDIT_EXPIRING: Category.SERVICE,
    Message.CREDIT_EXPIRED: Category.SERVICE,
    Message.LEVEL_CHANGED: Category.SERVICE,
    Message.COUPON_EXPIRING: Category.SERVICE,
    Message.BIRTHDAY: Category.MARKETING,
    Message.WELCOME: Category.MARKETING,
    Message.PORTAL_LINK: Category.ACCESS,
}


@dataclass(frozen=True, kw_only=True)
class NotificationPrefs:
    """A merchant's message settings (per program once programs exist)."""

    #: Messages switched off; every message is on by default.
    disabled: frozenset[Message] = field(default_factory=frozenset)
    #: Send service messages only to customers who opted in to e-mail.
    service_needs_consent: bool = False
    #: Coupon reminders go this many days before a coupon expires.
    coupon_reminder_days: int = 7
    #: Babel locale for numbers, money and dates (``en``, ``de_DE``, ``fr_CA``...).
    locale: str = "en"
    #: Where replies go, if not to the sender address.
    reply_to: str | None = None

    def __post_init__(self) -> None:
        check_locale(self.locale)
        if not 1 <= self.coupon_reminder_days <= 365:
            raise ValidationError(
                "coupon reminders go 1 to 365 days ahead", field="coupon_reminder_days"
            )

    def enabled(self, message: Message) -> bool:
        """Whether the merchant sends ``message`` at all."""
        return message not in self.disabled


@dataclass(frozen=True, kw_only=True)
class Recipient:
    """What consent rules need to know of a customer."""

    email: str | None
    phone: str | None
    enrolled: bool
    email_opt_in: bool
    sms_opt_in: bool


@dataclass(frozen=True, kw_only=True)
class Channels:
    """Where one message may go: an e-mail address, a phone for the SMS hook, or neither."""

    email: str | None = None
    sms: str | None = None

    def __bool__(self) -> bool:
        return bool(self.email or self.sms)


def channels_for(message: Message, prefs: NotificationPrefs, recipient: Recipient) -> Channels:
    """Where ``message`` may be sent to ``recipient``, by the merchant's and their choices."""
    if not prefs.enabled(message):
        return Channels()
    if CATEGORIES[message] == Category.ACCESS:
        # Asked for by the customer or for them: e-mail only, enrolled or not.
        return Channels(email=recipient.email or None)
    if not recipient.enrolled:
        return Channels()
    needs_consent = CATEGORIES[message] == Category.MARKETING or prefs.service_needs_consent
    email_ok = bool(recipient.email) and (recipient.email_opt_in or not needs_consent)
    sms_ok = bool(recipient.phone) and recipient.sms_opt_in
    return Channels(
        email=recipient.email if email_ok else None, sms=recipient.phone if sms_ok else None
    )


def check_locale(name: str) -> str:
    """``name`` if Babel knows the locale, else a :class:`ValidationError`."""
    try:
        Locale.parse(name)
    except (UnknownLocaleError, ValueError, TypeError):
        raise ValidationError(f"{name!r} is not a known locale", field="locale") from None
    return name
