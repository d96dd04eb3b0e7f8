"""A new portal link by e-mail: sent by staff or the API, or asked for on the expired-link page.

:func:`email_portal_link` queues the ``portal_link`` e-mail for one customer (the link itself
is made fresh when the ``send-emails`` job renders it, valid ``LOYALTY_PORTAL_LINK_DAYS``).
It is refused, naming the field, when the merchant switched that e-mail off or the customer
has no address; the same ``key`` queues it once. Each e-mail is audited as
``portal_link.emailed``.

:func:`request_portal_link` is the expired-link page's form: the customer types their
address; a link goes only if it is the address on file of the customer the expired link
named, at most :data:`PER_CUSTOMER` an hour. The caller answers the same whether or not a
link went, so the form tells nobody which addresses are known; only the throttles per
typed address and per client, which count every request alike, are told
(:class:`RequestsThrottled`).
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.errors import InvalidOperation, LoyaltyError
from loyalty_plugin.domain.notifications import Message
from loyalty_plugin.email import outbox
from loyalty_plugin.models import Customer, EmailMessage, PortalLinkRequest
from loyalty_plugin.services.audit import Actor, record_change
from loyalty_plugin.services.customers.portal import PortalAccess, PortalLinkInvalid, read_token
from loyalty_plugin.services.ledger.accounts import get_merchant
from loyalty_plugin.services.messaging.notifications import notification_prefs, queue_message

#: Links sent from the expired-link page per customer in :data:`WINDOW`.
PER_CUSTOMER = 3
#: Requests per typed address (known or not) in :data:`WINDOW`.
PER_ADDRESS = 5
#: Requests per client IP address in :data:`WINDOW`.
PER_CLIENT = 20
WINDOW = timedelta(hours=1)
#: Requests older than this are deleted (they no longer count).
KEEP = timedelta(days=1)
#: Before any link's expiry: reading a token as of then tells whom it named.
_LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


class RequestsThrottled(LoyaltyError):
    """Too many requests from this address or client: wait ``minutes``."""

    code = "too_many_requests"

    def __init__(self, *, minutes: int) -> None:
        super().__init__(f"too many requests; try again in {minutes} minutes")
        self.minutes = minutes


@dataclass(frozen=True, kw_only=True)
class QueuedLink:
    """A portal link e-mail in the outbox."""

    email_id: int
    merchant_id: str
    #: The host's id of the customer.
    customer_id: str
    to: str
    queued_at: datetime
    #: ``True`` when this ``key`` had already queued it (nothing new was sent).
    repeated: bool = False


def email_portal_link(
    session: Session,
    *,
    customer: Customer,
    key: str,
    valid_days: int,
    actor: Actor,
    now: datetime,
) -> QueuedLink:
    """Queue the ``portal_link`` e-mail to ``customer``'s address; once per ``key``.

    :class:`InvalidOperation` (field ``portal_link``) when the merchant switched the e-mail
    off, (field ``email``) when the customer has no address.
    """
    merchant_id = customer.merchant_id
    get_merchant(session, merchant_id)
    prefs = notification_prefs(session, merchant_id)
    if not prefs.enabled(Message.PORTAL_LINK):
        raise InvalidOperation(
            "the portal link e-mail is switched off in the merchant's e-mail settings",
            field="portal_link",
        )
    if not (customer.email or "").strip():
        raise InvalidOperation("the customer has no e-mail address", field="email")
    dedupe_key = f"portal_link:{customer.id}:{key}"
    message = queue_message(
        session,
        message=Message.PORTAL_LINK,
        customer=customer,
        dedupe_key=dedupe_key,
        data={"valid_days": valid_days},
        now=now,
        prefs=prefs,
    )
    if message is None:
        return _already_queued(session, customer, dedupe_key)
    record_change(
        session,
        merchant_id=merchant_id,
        actor=actor,
        action="portal_link.emailed",
        target_type="customer",
        target_id=customer.host_customer_id,
        before=None,
        after={"to": message.to_address, "email_id": message.id, "valid_days": valid_days},
        now=now,
    )
    return _queued(message, customer)


def request_portal_link(
    session: Session,
    *,
    merchant_id: str,
    customer_id: int,
    typed_email: str,
    client: str,
    valid_days: int,
    now: datetime,
) -> bool:
    """The expired-link page's form: whether a link was queued (never shown to the asker).

    ``customer_id`` is our row id from the expired link. :class:`RequestsThrottled` when
    the typed address or the client asked too often, known address or not.
    """
    address_hash = hashlib.sha256(typed_email.strip().lower().encode()).hexdigest()
    client = (client or "unknown")[:64]
    session.execute(delete(PortalLinkRequest).where(PortalLinkRequest.at < now - KEEP))
    _throttle(session, PortalLinkRequest.address_hash == address_hash, PER_ADDRESS, now)
    _throttle(session, PortalLinkRequest.client == client, PER_CLIENT, now)
    customer = _customer(session, merchant_id, customer_id)
    sent = customer is not None and _send_on_request(
        session, customer, address_hash, valid_days=valid_days, now=now
    )
    session.add(
        PortalLinkRequest(
            merchant_id=merchant_id,
            customer_id=None if customer is None else customer.id,
            address_hash=address_hash,
            client=client,
            at=now,
            sent=sent,
        )
    )
    session.flush()
    return sent


def expired_link_owner(secret: str, token: str) -> PortalAccess | None:
    """Whom a link of ours named, expired or not (``None`` for anything else).

    It grants nothing: only the expired-link page's form uses it, to know whose address a
    new link may go to.
    """
    try:
        return read_token(secret, token, now=_LONG_AGO)
    except PortalLinkInvalid:
        return None


def link_requests_open(session: Session, *, merchant_id: str) -> bool:
    """Whether the expired-link page offers the form (the merchant's switch is on)."""
    return notification_prefs(session, merchant_id).enabled(Message.PORTAL_LINK)


# -- internals -----------------------------------------------------------------------------


def _customer(session: Session, merchant_id: str, customer_id: int) -> Customer | None:
    """The customer, locked so two requests count their links one after the other.

    A customer merged since is their survivor, as the portal shows (:func:`open_portal`).
    """
    customer = session.get(Customer, customer_id, with_for_update=True)
    if customer is None or customer.merchant_id != merchant_id:
        return None
    if customer.merged_into_id is not None:
        customer = session.get(Customer, customer.merged_into_id, with_for_update=True)
    return customer


def _send_on_request(
    session: Session, customer: Customer, address_hash: str, *, valid_days: int, now: datetime
) -> bool:
    on_file = (customer.email or "").strip().lower()
    if not on_file or hashlib.sha256(on_file.encode()).hexdigest() != address_hash:
        return False
    sent = session.scalar(
        select(func.count())
        .select_from(PortalLinkRequest)
        .where(
            PortalLinkRequest.customer_id == customer.id,
            PortalLinkRequest.sent.is_(True),
            PortalLinkRequest.at > now - WINDOW,
        )
    )
    if (sent or 0) >= PER_CUSTOMER or not link_requests_open(
        session, merchant_id=customer.merchant_id
    ):
        return False
    actor = Actor.customer(customer.host_customer_id, customer.display_name)
    email_portal_link(
        session,
        customer=customer,
        key=f"asked:{secrets.token_hex(8)}",
        valid_days=valid_days,
        actor=actor,
        now=now,
    )
    return True


def _throttle(session: Session, condition: object, limit: int, now: datetime) -> None:
    """:class:`RequestsThrottled` if ``limit`` requests matching ``condition`` are recent."""
    since = now - WINDOW
    rows = session.execute(
        select(func.count(), func.min(PortalLinkRequest.at)).where(
            condition,  # type: ignore[arg-type]
            PortalLinkRequest.at > since,
        )
    ).one()
    if rows[0] >= limit:
        wait = (rows[1] + WINDOW - now).total_seconds() / 60
        raise RequestsThrottled(minutes=max(1, math.ceil(wait)))


def _already_queued(session: Session, customer: Customer, dedupe_key: str) -> QueuedLink:
    message = session.scalars(
        select(EmailMessage).where(
            EmailMessage.merchant_id == customer.merchant_id,
            EmailMessage.dedupe_key == outbox.fit_key(dedupe_key),
        )
    ).one()
    return _queued(message, customer, repeated=True)


def _queued(message: EmailMessage, customer: Customer, *, repeated: bool = False) -> QueuedLink:
    return QueuedLink(
        email_id=message.id,
        merchant_id=message.merchant_id,
        customer_id=customer.host_customer_id,
        to=message.to_address or "",
        queued_at=message.created_at,
        repeated=repeated,
    )
