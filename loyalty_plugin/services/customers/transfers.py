"""Giving points to another customer of the same merchant (Open Loyalty's peer-to-peer
transfer), named by host ids, with a reason and an audit row.

The ledger side (lots spent oldest-expiring first, received with their dates, both accounts
locked in id order) is :func:`loyalty_plugin.services.ledger.transfers.transfer`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.errors import NotFound, ValidationError
from loyalty_plugin.domain.points import check_points
from loyalty_plugin.models import Customer, Lot
from loyalty_plugin.services.audit import Actor, as_actor, record_change
from loyalty_plugin.services.ledger.accounts import find_customer, open_account
from loyalty_plugin.services.ledger.entries import spendable_points
from loyalty_plugin.services.ledger.transfers import Transfer, lots_to_give, transfer


@dataclass(frozen=True, kw_only=True)
class GivenLot:
    """Points a transfer would give from one of the sender's lots, with its dates."""

    points: int
    earned_at: datetime
    expires_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class TransferPlan:
    """What a transfer would do, for staff to confirm: who, how many, which lots."""

    sender: Customer
    receiver: Customer
    points: int
    reason: str
    #: What the sender can give now, and would have left.
    spendable: int
    lots: list[GivenLot]


def plan_transfer(
    session: Session,
    *,
    merchant_id: str,
    from_customer_id: str,
    to_customer_id: str,
    points: int,
    reason: str,
    now: datetime,
) -> TransferPlan:
    """Check a transfer and say which lots it would give (nothing is written).

    Refuses what :func:`transfer_points` would refuse, each on its field.
    """
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationError("a reason is required", field="reason")
    check_points(points)
    sender = _customer(session, merchant_id, from_customer_id, "from_customer_id")
    receiver = _customer(session, merchant_id, to_customer_id, "to_customer_id")
    if sender.id == receiver.id:
        raise ValidationError("points cannot be given to the same customer", field="to_customer_id")
    account = open_account(session, merchant_id=merchant_id, customer_id=sender.id)
    spendable = spendable_points(session, account.id, now)
    given = lots_to_give(session, account_id=account.id, points=points, now=now)
    return TransferPlan(
        sender=sender,
        receiver=receiver,
        points=points,
        reason=reason.strip(),
        spendable=spendable,
        lots=[
            GivenLot(points=n, earned_at=lot.earned_at, expires_at=lot.expires_at)
            for n, lot in given
        ],
    )


def transfer_points(
    session: Session,
    *,
    merchant_id: str,
    from_customer_id: str,
    to_customer_id: str,
    points: int,
    reason: str,
    now: datetime,
    actor: Actor | str,
    idempotency_key: str,
) -> Transfer:
    """Move ``points`` from one customer to another, once per ``idempotency_key``.

    A merged customer's host id names their survivor. Raises :class:`InsufficientPoints`
    when the sender cannot spend that many now.
    """
    actor = as_actor(actor)
    if not isinstance(idempotency_key, str) or not idempotency_key.strip():
        raise ValidationError("an idempotency key is required", field="idempotency_key")
    sender = _customer(session, merchant_id, from_customer_id, "from_customer_id")
    receiver = _customer(session, merchant_id, to_customer_id, "to_customer_id")
    result = transfer(
        session,
        from_account_id=open_account(session, merchant_id=merchant_id, customer_id=sender.id).id,
        to_account_id=open_account(session, merchant_id=merchant_id, customer_id=receiver.id).id,
        points=points,
        now=now,
        actor=actor.label,
        reason=reason.strip() if isinstance(reason, str) else reason,
        idempotency_key=idempotency_key,
    )
    if not result.replayed:
        record_change(
            session,
            merchant_id=merchant_id,
            actor=actor,
            action="points.transferred",
            target_type="customer",
            target_id=sender.host_customer_id,
            before=None,
            after=describe(session, result),
            now=now,
        )
    return result


def describe(session: Session, result: Transfer) -> dict[str, object]:
    """The transfer as the API answers it: who, how many, and the lots received."""
    sent = (result.sent.details or {}).get("transfer", {})
    ids = [entry.id for entry in result.received]
    lots = session.scalars(
        select(Lot)
        .where(Lot.merchant_id == result.sent.merchant_id, Lot.entry_id.in_(ids))
        .order_by(Lot.id)
    ).all()
    return {
        "from_customer_id": _sender(result),
        "to_customer_id": sent.get("to_customer_id"),
        "points": -result.sent.points,
        "reason": result.sent.reason,
        "entry_id": result.sent.id,
        "received_entry_ids": ids,
        "lots": [
            {
                "points": lot.points,
                "earned_at": lot.earned_at.isoformat(),
                "expires_at": lot.expires_at.isoformat() if lot.expires_at else None,
            }
            for lot in lots
        ],
        "created_at": result.sent.created_at.isoformat(),
    }


def _sender(result: Transfer) -> str | None:
    if not result.received:
        return None
    return result.received[0].details["transfer"]["from_customer_id"]


def _customer(session: Session, merchant_id: str, host_id: str, field: str) -> Customer:
    customer = find_customer(session, merchant_id, str(host_id))
    if customer is None:
        raise NotFound(f"customer {host_id!r} does not exist", field=field)
    return customer
