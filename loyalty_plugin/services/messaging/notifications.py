"""Customer messages: the merchant's settings, consent, and queueing from domain events.

:data:`EMAIL_SINK` turns domain events into queued e-mails inside the transaction that
caused them (a receipt for points earned, a notice for points expired, a level change, a
welcome). Reminders and greetings are queued by their jobs with :func:`queue_message`.
Each message is queued at most once (its dedupe key), and only where the merchant's
switches and the customer's consent allow
(:func:`loyalty_plugin.domain.notifications.channels_for`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.errors import NotFound, ValidationError
from loyalty_plugin.domain.events import (
    CreditExpired,
    CustomerRegistered,
    DomainEvent,
    LevelChanged,
    PointsEarned,
    PointsExpired,
)
from loyalty_plugin.domain.notifications import (
    Message,
    NotificationPrefs,
    Recipient,
    channels_for,
    check_locale,
)
from loyalty_plugin.email import context as stored
from loyalty_plugin.email import outbox
from loyalty_plugin.models import (
    Account,
    Customer,
    EmailMessage,
    LedgerEntry,
    NotificationSettings,
)
from loyalty_plugin.services.audit import Actor, as_actor, record_change
from loyalty_plugin.services.ledger.accounts import find_customer, get_merchant
from loyalty_plugin.services.ledger.units import points_only
from loyalty_plugin.services.levels.memberships import benefits_for, level_names
from loyalty_plugin.services.settings_cache import cached

#: Columns of :class:`NotificationSettings` that switch one message on or off.
SWITCHES = {message: message.value for message in Message}


# -- settings ----------------------------------------------------------------------------


def notification_prefs(session: Session, merchant_id: str) -> NotificationPrefs:
    """The merchant's message settings (the defaults when it never changed them); kept
    across requests by :mod:`~loyalty_plugin.services.settings_cache`."""
    return cached(
        session,
        merchant_id,
        "notification_prefs",
        lambda: _notification_prefs(session, merchant_id),
    )


def _notification_prefs(session: Session, merchant_id: str) -> NotificationPrefs:
    row = session.get(NotificationSettings, merchant_id)
    if row is None:
        return NotificationPrefs()
    return NotificationPrefs(
        disabled=frozenset(m for m, column in SWITCHES.items() if not getattr(row, column)),
        service_needs_consent=row.service_needs_consent,
        coupon_reminder_days=row.coupon_reminder_days,
        locale=row.locale,
        reply_to=row.reply_to,
    )


def set_notification_prefs(
    session: Session,
    *,
    merchant_id: str,
    prefs: NotificationPrefs,
    now: datetime,
    actor: Actor | str,
) -> NotificationSettings:
    """Store the merchant's message settings (audited as ``notifications.updated``)."""
    actor = as_actor(actor)
    get_merchant(session, merchant_id)
    check_locale(prefs.locale)
    before = _prefs_document(notification_prefs(session, merchant_id))
    row = session.get(NotificationSettings, merchant_id) or NotificationSettings(
        merchant_id=merchant_id
    )
    for message, column in SWITCHES.items():
        setattr(row, column, prefs.enabled(message))
    row.service_needs_consent = prefs.service_needs_consent
    row.coupon_reminder_days = prefs.coupon_reminder_days
    row.locale = prefs.locale
    row.reply_to = prefs.reply_to
    row.updated_at = now
    row.updated_by = actor.label
    session.add(row)
    session.flush()
    after = _prefs_document(notification_prefs(session, merchant_id))
    if before != after:
        record_change(
            session,
            merchant_id=merchant_id,
            actor=actor,
            action="notifications.updated",
            target_type="notifications",
            target_id=merchant_id,
            before=before,
            after=after,
            now=now,
        )
    return row


def _prefs_document(prefs: NotificationPrefs) -> dict[str, Any]:
    return {
        "disabled": sorted(m.value for m in prefs.disabled),
        "service_needs_consent": prefs.service_needs_consent,
        "coupon_reminder_days": prefs.coupon_reminder_days,
        "locale": prefs.locale,
        "reply_to": prefs.reply_to,
    }


# -- consent -----------------------------------------------------------------------------

#: The customer's marketing consents, as columns of :class:`Customer`.
CONSENTS = ("email_opt_in", "sms_opt_in")
#: The ``source`` recorded when a customer unsubscribes with an e-mail's link.
UNSUBSCRIBE_LINK = "unsubscribe link"


def set_consent(
    session: Session,
    *,
    merchant_id: str,
    customer_id: str,
    now: datetime,
    actor: Actor,
    email_opt_in: bool | None = None,
    sms_opt_in: bool | None = None,
    source: str | None = None,
) -> Customer:
    """Record the customer's consent to e-mail and SMS marketing (``None`` leaves one as is).

    Audited as ``consent.changed`` on the customer when a consent changes, with ``source``
    (where it was given or withdrawn: ``portal``, ``unsubscribe link``...) in its ``after``.
    """
    customer = find_customer(session, merchant_id, customer_id)
    if customer is None:
        raise NotFound(f"customer {customer_id!r} does not exist", field="customer_id")
    given = {"email_opt_in": email_opt_in, "sms_opt_in": sms_opt_in}
    wanted = {k: v for k, v in given.items() if v is not None}
    _change_consent(session, customer, wanted, actor, now=now, source=source)
    return customer


def unsubscribe(
    session: Session, *, merchant_id: str, customer_id: int, now: datetime
) -> Customer | None:
    """Withdraw the customer's e-mail marketing consent (the unsubscribe link).

    Audited as ``consent.changed`` by the customer themself, source ``unsubscribe link``.
    """
    customer = session.get(Customer, customer_id)
    if customer is None or customer.merchant_id != merchant_id:
        return None
    actor = Actor.customer(customer.host_customer_id, customer.display_name)
    wanted = {"email_opt_in": False}
    _change_consent(session, customer, wanted, actor, now=now, source=UNSUBSCRIBE_LINK)
    return customer


def _change_consent(
    session: Session,
    customer: Customer,
    wanted: dict[str, bool],
    actor: Actor,
    *,
    now: datetime,
    source: str | None = None,
) -> None:
    before = {name: getattr(customer, name) for name in CONSENTS}
    for name, value in wanted.items():
        if not isinstance(value, bool):
            raise ValidationError(f"{name} is true or false", field=name)
        setattr(customer, name, value)
    after = {name: getattr(customer, name) for name in CONSENTS}
    if before == after:
        return
    customer.updated_at = now
    session.flush()
    record_change(
        session,
        merchant_id=customer.merchant_id,
        actor=actor,
        action="consent.changed",
        target_type="customer",
        target_id=customer.host_customer_id,
        before=before,
        after=after | ({"source": source} if source else {}),
        now=now,
    )


# -- queueing ----------------------------------------------------------------------------


def queue_message(
    session: Session,
    *,
    message: Message,
    customer: Customer,
    dedupe_key: str,
    data: dict[str, Any],
    now: datetime,
    prefs: NotificationPrefs | None = None,
) -> EmailMessage | None:
    """Queue ``message`` for ``customer`` if settings and consent allow and it is new.

    ``data`` holds the template's own variables; the common ones (merchant, customer,
    balance, level) are added here and the links when the message is sent.
    """
    prefs = prefs or notification_prefs(session, customer.merchant_id)
    channels = channels_for(message, prefs, _recipient(customer))
    if not channels:
        return None
    context = common_context(session, customer, now=now) | data
    return outbox.queue(
        session,
        merchant_id=customer.merchant_id,
        template=message.value,
        dedupe_key=dedupe_key,
        customer_id=customer.id,
        to_address=channels.email,
        sms_to=channels.sms,
        context=stored.dump(context),
        now=now,
    )


def common_context(session: Session, customer: Customer, *, now: datetime) -> dict[str, Any]:
    """The variables every template gets, as the customer stands at ``now``."""
    merchant = get_merchant(session, customer.merchant_id)
    account = session.execute(
        select(Account.id, Account.balance).where(
            Account.merchant_id == customer.merchant_id,
            Account.customer_id == customer.id,
            points_only(Account),
        )
    ).first()
    level = None if account is None else benefits_for(session, account_id=account.id, now=now)
    return {
        "merchant": {"name": merchant.name},
        "customer": {
            "first_name": customer.first_name,
            "last_name": customer.last_name or "",
            "name": customer.display_name,
            "email": customer.email or "",
        },
        "balance": 0 if account is None else int(account.balance),
        "level": None if level is None else level.name,
    }


def _recipient(customer: Customer) -> Recipient:
    return Recipient(
        email=customer.email,
        phone=customer.phone,
        enrolled=customer.enrolled,
        email_opt_in=customer.email_opt_in,
        sms_opt_in=customer.sms_opt_in,
    )


# -- from domain events ------------------------------------------------------------------


class EmailSink:
    """Queues the e-mail a domain event calls for, in the event's own transaction."""

    def record(self, session: Session, event: DomainEvent) -> None:
        handler = _HANDLERS.get(type(event))
        if handler is None:
            return
        customer_id = getattr(event, "customer_id", None)
        customer = find_customer(session, event.merchant_id, str(customer_id))
        if customer is not None:
            handler(session, event, customer)

    def deliver(self, event: DomainEvent) -> None:
        """Nothing after commit: the ``send-emails`` job sends what was queued."""


def _earned(session: Session, event: Any, customer: Customer) -> None:
    queue_message(
        session,
        message=Message.POINTS_EARNED,
        customer=customer,
        dedupe_key=f"points_earned:entry:{event.entry_id}",
        data={"points": event.points, "balance": event.balance, "reference": event.reference},
        now=event.occurred_at,
    )


def _expired(session: Session, event: Any, customer: Customer) -> None:
    details = session.scalar(select(LedgerEntry.details).where(LedgerEntry.id == event.entry_id))
    months = details.get("months") if isinstance(details, dict) else None
    queue_message(
        session,
        message=Message.POINTS_EXPIRED,
        customer=customer,
        dedupe_key=f"points_expired:entry:{event.entry_id}",
        data={"points": event.points, "balance": event.balance, "inactivity_months": months},
        now=event.occurred_at,
    )


def _credit_expired(session: Session, event: Any, customer: Customer) -> None:
    currency = event.currency
    queue_message(
        session,
        message=Message.CREDIT_EXPIRED,
        customer=customer,
        dedupe_key=f"credit_expired:entry:{event.entry_id}",
        data={
            "credit": {
                "amount": Decimal(event.amount),
                "currency": currency,
                "balance": Decimal(event.balance),
            }
        },
        now=event.occurred_at,
    )


def _level_changed(session: Session, event: Any, customer: Customer) -> None:
    names = level_names(session, merchant_id=customer.merchant_id, at=event.occurred_at)
    previous = None if event.from_level is None else names.get(event.from_level, event.from_level)
    queue_message(
        session,
        message=Message.LEVEL_CHANGED,
        customer=customer,
        dedupe_key=f"level_changed:{customer.id}:{event.to_level}:{event.occurred_at:%Y%m%d%H%M%S}",
        data={"level": names.get(event.to_level, event.to_level), "previous_level": previous},
        now=event.occurred_at,
    )


def _welcome(session: Session, event: Any, customer: Customer) -> None:
    queue_message(
        session,
        message=Message.WELCOME,
        customer=customer,
        dedupe_key=f"welcome:{customer.id}",
        data={},
        now=event.occurred_at,
    )


_HANDLERS: dict[type[DomainEvent], Callable[[Session, Any, Customer], None]] = {
    PointsEarned: _earned,
    PointsExpired: _expired,
    CreditExpired: _credit_expired,
    LevelChanged: _level_changed,
    CustomerRegistered: _welcome,
}

#: The sink to attach to every session that publishes events (jobs, web requests).
EMAIL_SINK = EmailSink()
