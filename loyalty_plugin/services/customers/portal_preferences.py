"""The portal's preferences: e-mail and SMS marketing consent, and when and how it changed.

Consent lives on the customer (``email_opt_in``, ``sms_opt_in``); every change is a
``consent.changed`` audit row with its time, who made it and, from this page or an
e-mail's unsubscribe link, its ``source``. The page reads the latest change of each
channel from those rows. Nothing here knows of Flask.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.errors import ValidationError
from loyalty_plugin.models import AuditEntry, Customer
from loyalty_plugin.services.audit import Actor
from loyalty_plugin.services.messaging import notifications

#: The channels a customer chooses, and the customer's column for each.
CHANNELS = {"email": "email_opt_in", "sms": "sms_opt_in"}
#: The ``source`` of a change made on the portal.
PORTAL = "portal"
#: Audit rows read to find each channel's latest change (older changes are not shown).
LOOK_BACK = 50


@dataclass(frozen=True, kw_only=True)
class Consent:
    """One channel: given or not, and its latest recorded change."""

    channel: str
    given: bool
    changed_at: datetime | None
    #: ``portal``, ``unsubscribe link``, ``team`` (staff), ``shop`` (the host, the API).
    changed_by: str | None


def preferences(session: Session, customer: Customer) -> list[Consent]:
    """E-mail then SMS: the customer's consent and when and how it last changed."""
    rows = session.scalars(
        select(AuditEntry)
        .where(
            AuditEntry.merchant_id == customer.merchant_id,
            AuditEntry.target_type == "customer",
            AuditEntry.target_id == customer.host_customer_id,
            AuditEntry.action == "consent.changed",
        )
        .order_by(AuditEntry.id.desc())
        .limit(LOOK_BACK)
    ).all()
    found = []
    for channel, column in CHANNELS.items():
        change = next((row for row in rows if _changed(row, column)), None)
        found.append(
            Consent(
                channel=channel,
                given=bool(getattr(customer, column)),
                changed_at=None if change is None else change.occurred_at,
                changed_by=None if change is None else _by(change),
            )
        )
    return found


def set_preference(
    session: Session, customer: Customer, *, channel: str, given: bool, now: datetime
) -> Customer:
    """The customer gives or withdraws consent on ``channel`` from the portal."""
    if channel not in CHANNELS:
        raise ValidationError(f"channel is one of {', '.join(CHANNELS)}", field="channel")
    return notifications.set_consent(
        session,
        merchant_id=customer.merchant_id,
        customer_id=customer.host_customer_id,
        now=now,
        actor=Actor.customer(customer.host_customer_id, customer.display_name),
        source=PORTAL,
        **{CHANNELS[channel]: given},
    )


def _changed(row: AuditEntry, column: str) -> bool:
    before, after = row.before or {}, row.after or {}
    return column in after and before.get(column) != after.get(column)


def _by(row: AuditEntry) -> str:
    source = (row.after or {}).get("source")
    if isinstance(source, str) and source:
        return source
    if row.actor_kind == "customer":  # before sources were kept, only the link was theirs
        return notifications.UNSUBSCRIBE_LINK
    return "team" if row.actor_kind in ("staff", "cli") else "shop"
