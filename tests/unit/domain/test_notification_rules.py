"""Consent: who may get which message on which channel."""

import pytest

from loyalty_plugin.domain.errors import ValidationError
from loyalty_plugin.domain.notifications import (
    Message,
    NotificationPrefs,
    Recipient,
    channels_for,
)


def recipient(**changes: object) -> Recipient:
    values = {
        "email": "ana@example.com",
        "phone": "+351900000000",
        "enrolled": True,
        "email_opt_in": False,
        "sms_opt_in": False,
    }
    return Recipient(**(values | changes))


def test_marketing_needs_marketing_consent() -> None:
    """A birthday greeting goes only to customers who opted in to e-mail."""
    prefs = NotificationPrefs()
    assert not channels_for(Message.BIRTHDAY, prefs, recipient())
    assert channels_for(Message.BIRTHDAY, prefs, recipient(email_opt_in=True)).email


def test_service_messages_follow_the_merchant_setting() -> None:
    """Expiry warnings go without consent by default, and only with it when required."""
    assert channels_for(Message.POINTS_EXPIRING, NotificationPrefs(), recipient()).email
    strict = NotificationPrefs(service_needs_consent=True)
    assert not channels_for(Message.POINTS_EXPIRING, strict, recipient())
    assert channels_for(Message.POINTS_EXPIRING, strict, recipient(email_opt_in=True)).email


def test_sms_needs_sms_consent_and_a_phone() -> None:
    """The SMS hook is only for customers who consented to SMS."""
    prefs = NotificationPrefs()
    assert channels_for(Message.POINTS_EARNED, prefs, recipient()).sms is None
    both = channels_for(Message.POINTS_EARNED, prefs, recipient(sms_opt_in=True))
    assert (both.email, both.sms) == ("ana@example.com", "+351900000000")
    no_phone = channels_for(Message.POINTS_EARNED, prefs, recipient(sms_opt_in=True, phone=None))
    assert no_phone.sms is None


def test_switched_off_messages_and_unenrolled_customers_get_nothing() -> None:
    """A message the merchant turned off, or a customer who left, gets no channel."""
    off = NotificationPrefs(disabled=frozenset({Message.POINTS_EARNED}))
    assert not channels_for(Message.POINTS_EARNED, off, recipient(email_opt_in=True))
    assert not channels_for(
        Message.POINTS_EXPIRED, NotificationPrefs(), recipient(enrolled=False, email_opt_in=True)
    )


def test_unknown_locale_is_refused() -> None:
    """Formatting needs a locale Babel knows."""
    with pytest.raises(ValidationError):
        NotificationPrefs(locale="xx_NOPE")
