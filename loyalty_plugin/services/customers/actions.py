"""What staff do from the customer desk: adjust, approve, give a level, consent, portal link.

Each action is one call of a service the API calls too (adjustments, levels,
notifications, portal), with the customer addressed by our row id as the admin pages
address them, and the signed-in staff member as the :class:`~loyalty_plugin.services.audit.Actor`
(the services write the audit rows). Form text is read here into typed values, so a bad
field is a :class:`ValidationError` that names it, as the API's would.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.errors import NotFound, ValidationError
from loyalty_plugin.models import Account, Adjustment, AdjustmentStatus, Card, Customer, StaffRole
from loyalty_plugin.services.audit import Actor, as_actor, record_change
from loyalty_plugin.services.cards import holders
from loyalty_plugin.services.customers import portal
from loyalty_plugin.services.customers.desk import get_customer
from loyalty_plugin.services.ledger import adjustments
from loyalty_plugin.services.ledger.accounts import get_merchant, open_account
from loyalty_plugin.services.levels import memberships as levels
from loyalty_plugin.services.messaging import notifications, portal_links

#: Pending adjustments on one page of the approvals list.
APPROVALS_PER_PAGE = 25
#: The consents a staff member may switch, and their columns.
CONSENTS = {"email": "email_opt_in", "sms": "sms_opt_in"}


@dataclass(frozen=True, kw_only=True)
class PendingAdjustment:
    """An adjustment waiting for a second staff member, with its customer."""

    adjustment: Adjustment
    customer: Customer

    @property
    def requester(self) -> Actor:
        """Who asked for it (a staff member, or an API caller naming one)."""
        return as_actor(self.adjustment.requested_by)


@dataclass(frozen=True, kw_only=True)
class Approvals:
    """One page of the approvals list, oldest request first (it has waited longest)."""

    items: list[PendingAdjustment]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        """How many pages the waiting adjustments fill (at least 1)."""
        return max(1, math.ceil(self.total / self.per_page))


# -- reading form text ---------------------------------------------------------------------


def read_points(text: str | None, field: str = "points") -> int:
    """Whole points, signed (``-250`` takes points away); thousands separators allowed."""
    cleaned = (text or "").strip().replace(",", "").replace("_", "").replace(" ", "")
    if not cleaned:
        raise ValidationError("enter a number of points", field=field)
    # A minus sign pasted from a page (U+2212) counts as a hyphen-minus.
    sign = -1 if cleaned[0] in ("-", "\u2212") else 1
    digits = cleaned[1:] if cleaned[0] in ("+", "-", "\u2212") else cleaned
    if not digits.isdigit() or not digits.isascii():
        raise ValidationError("enter whole points, e.g. 250 or -100", field=field)
    if len(digits) > 12:
        raise ValidationError("that is too many points", field=field)
    points = sign * int(digits)
    if points == 0:
        raise ValidationError("enter points other than 0", field=field)
    return points


def read_day_end(text: str | None, *, timezone: str, field: str, required: bool) -> datetime | None:
    """A ``YYYY-MM-DD`` date as the end of that day in the merchant's time zone."""
    if not (text or "").strip():
        if required:
            raise ValidationError("enter a date", field=field)
        return None
    try:
        day = date.fromisoformat((text or "").strip())
    except ValueError:
        raise ValidationError("enter a date as YYYY-MM-DD", field=field) from None
    start_of_next = datetime.combine(day + timedelta(days=1), time.min, ZoneInfo(timezone))
    return start_of_next.astimezone(ZoneInfo("UTC"))


# -- adjustments ---------------------------------------------------------------------------


def adjust(
    session: Session,
    *,
    merchant_id: str,
    customer_id: int,
    points: int,
    reason: str,
    expires_at: datetime | None,
    actor: Actor,
    role: StaffRole,
    form_key: str,
    now: datetime,
) -> Adjustment:
    """Ask for an adjustment; applied at once or waiting for approval by the role rules.

    A staff member's always waits; a manager's or owner's waits above the merchant's
    ``adjustment_approval_above``. The form's one-time key makes a double submit ask once.
    """
    customer = get_customer(session, merchant_id=merchant_id, customer_id=customer_id)
    return adjustments.request_adjustment(
        session,
        merchant_id=merchant_id,
        customer_id=customer.host_customer_id,
        points=points,
        reason=reason,
        staff=actor.label,
        expires_at=expires_at,
        now=now,
        actor=actor,
        role=role,
        idempotency_key=f"desk:{form_key}"[:255] if form_key else None,
    )


def pending_approvals(
    session: Session, *, merchant_id: str, page: int = 1, per_page: int = APPROVALS_PER_PAGE
) -> Approvals:
    """Page ``page`` of the merchant's adjustments waiting for approval, oldest first.

    A page past the end answers the last page (a bookmark kept while others decided).
    """
    if page < 1:
        raise ValidationError("the page must be 1 or more", field="page")
    waiting = (Adjustment.merchant_id == merchant_id) & (
        Adjustment.status == AdjustmentStatus.PENDING
    )
    rows = _approvals_page(session, waiting, page, per_page)
    if not rows and page > 1:
        count = session.scalar(select(func.count()).select_from(Adjustment).where(waiting)) or 0
        page = max(1, math.ceil(count / per_page))
        rows = _approvals_page(session, waiting, page, per_page) if count else []
    return Approvals(
        items=[PendingAdjustment(adjustment=a, customer=c) for a, c, _ in rows],
        page=page,
        per_page=per_page,
        total=rows[0][2] if rows else 0,
    )


def _approvals_page(session: Session, waiting: Any, page: int, per_page: int) -> list[Any]:
    total = func.count().over().label("total")
    return list(
        session.execute(
            select(Adjustment, Customer, total)
            .join(Account, Account.id == Adjustment.account_id)
            .join(Customer, Customer.id == Account.customer_id)
            .where(waiting)
            .order_by(Adjustment.id)
            .offset((page - 1) * per_page)
            .limit(per_page)
        ).all()
    )


def decide(
    session: Session,
    *,
    merchant_id: str,
    adjustment_id: int,
    approve: bool,
    actor: Actor,
    role: StaffRole,
    note: str | None,
    now: datetime,
    expires_at: datetime | None = None,
) -> Adjustment:
    """Approve (the points move) or reject (nothing moves) another staff member's request."""
    note = (note or "").strip() or None
    if approve:
        return adjustments.approve_adjustment(
            session,
            merchant_id=merchant_id,
            adjustment_id=adjustment_id,
            staff=actor.label,
            note=note,
            now=now,
            expires_at=expires_at,
            actor=actor,
            role=role,
        )
    return adjustments.reject_adjustment(
        session,
        merchant_id=merchant_id,
        adjustment_id=adjustment_id,
        staff=actor.label,
        note=note,
        now=now,
        actor=actor,
        role=role,
    )


# -- loyalty cards --------------------------------------------------------------------------


def give_card(
    session: Session,
    *,
    merchant_id: str,
    customer_id: int,
    number: str,
    actor: Actor,
    now: datetime,
) -> Card:
    """Give the customer the card ``number`` (:func:`holders.assign_card`, audited).

    :raises NotFound: on ``customer_id``, or on ``number`` (no such card).
    :raises InvalidOperation: on ``number``: the card is not available, or the customer
        holds another one.
    """
    customer = get_customer(session, merchant_id=merchant_id, customer_id=customer_id)
    return holders.assign_card(
        session,
        merchant_id=merchant_id,
        number=_required(number, "number"),
        customer_id=customer.host_customer_id,
        actor=actor,
        now=now,
    )


def block_card(
    session: Session,
    *,
    merchant_id: str,
    customer_id: int,
    number: str,
    reason: str,
    actor: Actor,
    now: datetime,
) -> Card:
    """Block the customer's card ``number`` (:func:`holders.block_card`, audited).

    :raises NotFound: on ``number`` when the card is not this customer's.
    """
    _customers_card(session, merchant_id, customer_id, number)
    return holders.block_card(
        session, merchant_id=merchant_id, number=number, reason=reason, actor=actor, now=now
    )


def replace_card(
    session: Session,
    *,
    merchant_id: str,
    customer_id: int,
    number: str,
    new_number: str,
    reason: str,
    actor: Actor,
    now: datetime,
) -> Card:
    """Replace the customer's lost card with ``new_number``; the points stay (audited).

    :raises NotFound: on ``number`` when the card is not this customer's, on ``new_number``.
    """
    _customers_card(session, merchant_id, customer_id, number)
    return holders.replace_card(
        session,
        merchant_id=merchant_id,
        number=number,
        new_number=_required(new_number, "new_number"),
        reason=reason.strip() or "lost",
        actor=actor,
        now=now,
    )


def _customers_card(session: Session, merchant_id: str, customer_id: int, number: str) -> Card:
    customer = get_customer(session, merchant_id=merchant_id, customer_id=customer_id)
    card = holders.get_card(session, merchant_id, number)
    if card.customer_id != customer.id:
        raise NotFound(f"card {number!r} is not this customer's", field="number")
    return card


def _required(text: str, field: str) -> str:
    if not text.strip():
        raise ValidationError("enter a card number", field=field)
    return text.strip()


# -- levels, consent, portal link ----------------------------------------------------------


def give_level(
    session: Session,
    *,
    merchant_id: str,
    customer_id: int,
    level: str,
    until: datetime,
    reason: str,
    actor: Actor,
    now: datetime,
) -> None:
    """Give the customer ``level`` until ``until`` (end of that day), with a reason."""
    customer = get_customer(session, merchant_id=merchant_id, customer_id=customer_id)
    account = open_account(session, merchant_id=merchant_id, customer_id=customer.id)
    levels.give_level(
        session,
        merchant_id=merchant_id,
        account_id=account.id,
        level=level,
        until=until,
        reason=reason,
        now=now,
        actor=actor,
    )


def set_consent(
    session: Session,
    *,
    merchant_id: str,
    customer_id: int,
    channel: str,
    given: bool,
    actor: Actor,
    now: datetime,
) -> Customer:
    """Record that the customer gave (or withdrew) consent to marketing on ``channel``."""
    if channel not in CONSENTS:
        raise ValidationError(f"channel is one of {', '.join(CONSENTS)}", field="channel")
    customer = get_customer(session, merchant_id=merchant_id, customer_id=customer_id)
    return notifications.set_consent(
        session,
        merchant_id=merchant_id,
        customer_id=customer.host_customer_id,
        now=now,
        actor=actor,
        **{CONSENTS[channel]: given},
    )


def portal_link(
    session: Session,
    *,
    merchant_id: str,
    customer_id: int,
    secret: str,
    base_url: str,
    valid_for: timedelta,
    actor: Actor,
    now: datetime,
) -> portal.PortalLink:
    """A fresh portal link for the customer, to copy and give them; the trail notes it."""
    customer = get_customer(session, merchant_id=merchant_id, customer_id=customer_id)
    get_merchant(session, merchant_id)
    link = portal.portal_link(
        session,
        secret=secret,
        base_url=base_url,
        merchant_id=merchant_id,
        host_customer_id=customer.host_customer_id,
        now=now,
        valid_for=valid_for,
    )
    record_change(
        session,
        merchant_id=merchant_id,
        actor=actor,
        action="portal_link.issued",
        target_type="customer",
        target_id=customer.host_customer_id,
        before=None,
        after={"expires_at": link.expires_at},
        now=now,
    )
    return link


def email_portal_link(
    session: Session,
    *,
    merchant_id: str,
    customer_id: int,
    form_key: str,
    valid_days: int,
    actor: Actor,
    now: datetime,
) -> portal_links.QueuedLink:
    """E-mail the customer a fresh portal link; the same form sent twice e-mails once."""
    if not form_key:
        raise ValidationError("the form has no key; reload the page", field="form_key")
    customer = get_customer(session, merchant_id=merchant_id, customer_id=customer_id)
    return portal_links.email_portal_link(
        session,
        customer=customer,
        key=f"staff:{form_key}"[:64],
        valid_days=valid_days,
        actor=actor,
        now=now,
    )
