"""The birthday bonus: at most once per customer and year, from the host or from our job.

Two callers give it: the ``customer.birthday`` host event and the ``birthday-greetings``
job (for customers whose date of birth we know). Both count the same fact, the
:class:`~loyalty_plugin.models.EventKey` ``birthday:<customer>:<year>``, flushed before any
ledger write: whichever comes first earns, the other finds the key and earns nothing, and
two racing callers meet on the key's unique constraint (the loser's retry sees the key).
The points are the same either way: the birthday rules of the merchant's programs.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.host_events import birthday_key
from loyalty_plugin.domain.ledger import EntryKind
from loyalty_plugin.models import Customer, LedgerEntry
from loyalty_plugin.services.earning import awards as earning
from loyalty_plugin.services.idempotency import claim_fact
from loyalty_plugin.services.ledger.units import points_only

_ALREADY = "this year's birthday bonus was counted already"

#: Who the ledger says gave bonuses awarded by the ``birthday-greetings`` job.
JOB_ACTOR = "job:birthday-greetings"


def award_birthday(
    session: Session,
    *,
    customer: Customer,
    day: date,
    hooks: Any,
    now: datetime,
    actor: str,
    event_id: int | None = None,
    occurred_at: datetime | None = None,
) -> dict[str, Any]:
    """The bonus of ``day``'s birthday unless already counted that year; what it did.

    ``event_id`` is the host delivery that counts it (``None``: the job). The answer is a
    webhook ``result``: ``points_earned``, and who counted it first when it was not us.
    """
    merchant_id = customer.merchant_id
    key = birthday_key(customer.host_customer_id, day.year)
    result: dict[str, Any] = {"customer_id": customer.host_customer_id, "year": day.year}
    counted = claim_fact(session, merchant_id=merchant_id, key=key, event_id=event_id)
    if counted is not None:
        return result | {"points_earned": 0} | _counted_by(counted.event_id)
    return result | earning.event_with_programs(
        session,
        merchant_id=merchant_id,
        customer=customer,
        trigger="birthday",
        reference=key,
        hooks=hooks,
        now=now,
        occurred_at=occurred_at,
        day=day,
        actor=actor,
    )


def birthday_points_given(session: Session, *, customer: Customer, year: int) -> int:
    """Points the customer's birthday bonus of ``year`` gave (0 if none yet)."""
    total = session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(
            LedgerEntry.merchant_id == customer.merchant_id,
            points_only(LedgerEntry),
            LedgerEntry.reference_type == "birthday",
            LedgerEntry.reference_id == birthday_key(customer.host_customer_id, year),
            LedgerEntry.kind == EntryKind.EARN,
        )
    )
    return int(total or 0)


def _counted_by(event_id: int | None) -> dict[str, Any]:
    """Who counted the birthday first: a host delivery's id, or the job."""
    if event_id is None:
        return {"already_counted": True, "counted_by": JOB_ACTOR, "reason": _ALREADY}
    return {"already_counted_by": event_id, "reason": _ALREADY}
