"""API idempotency records: claim a key, remember the answer, replay it, forget old ones.

The behaviour follows the IETF Idempotency-Key draft and Stripe: a repeat with the same key
and request gets the first answer (errors included); the same key with another request is
refused; a repeat while the first is still running is told to wait.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from loyalty_plugin.models import IdempotencyRecord, IdempotencyStatus

#: An in-flight claim older than this is taken to be from a process that died.
ABANDONED_AFTER = timedelta(minutes=5)


class Claim(enum.Enum):
    """What happened when a request tried to claim its key."""

    #: The key is new (or abandoned): this request runs.
    ACQUIRED = "acquired"
    #: The first request finished: replay its answer.
    REPLAY = "replay"
    #: The first request is still running.
    IN_FLIGHT = "in_flight"
    #: The key was used with a different request.
    MISMATCH = "mismatch"


@dataclass(frozen=True, slots=True)
class Outcome:
    """The claim, the record's id, and the stored answer for a replay."""

    claim: Claim
    record_id: int
    status: int | None = None
    body: Any = None


def claim_key(
    session: Session,
    *,
    merchant_id: str,
    api_key_id: int,
    key: str,
    fingerprint: str,
    now: datetime,
) -> Outcome:
    """Insert the key as in flight, or report what an earlier request with it did.

    Run it in its own transaction (a concurrent insert of the same key loses on the unique
    constraint and is retried by :func:`run_in_transaction`, which then finds the winner).
    """
    record = session.scalars(
        select(IdempotencyRecord).where(
            IdempotencyRecord.merchant_id == merchant_id,
            IdempotencyRecord.api_key_id == api_key_id,
            IdempotencyRecord.key == key,
        )
    ).one_or_none()
    if record is None:
        record = IdempotencyRecord(
            merchant_id=merchant_id,
            api_key_id=api_key_id,
            key=key,
            fingerprint=fingerprint,
            status=IdempotencyStatus.IN_FLIGHT,
            created_at=now,
        )
        session.add(record)
        session.flush()
        return Outcome(Claim.ACQUIRED, record.id)
    if record.fingerprint != fingerprint:
        return Outcome(Claim.MISMATCH, record.id)
    if record.status == IdempotencyStatus.DONE:
        return Outcome(Claim.REPLAY, record.id, record.response_status, record.response_body)
    if now - record.created_at > ABANDONED_AFTER and _take_over(session, record, now):
        return Outcome(Claim.ACQUIRED, record.id)
    return Outcome(Claim.IN_FLIGHT, record.id)


def complete_key(
    session: Session, *, record_id: int, status: int, body: Any, now: datetime
) -> None:
    """Store the answer of the request that holds the key (in that request's transaction)."""
    session.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.id == record_id)
        .values(
            status=IdempotencyStatus.DONE,
            response_status=status,
            response_body=body,
            completed_at=now,
        )
    )


def release_key(session: Session, *, record_id: int) -> None:
    """Forget an in-flight key whose request failed unexpectedly, so a retry may run."""
    session.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.id == record_id,
            IdempotencyRecord.status == IdempotencyStatus.IN_FLIGHT,
        )
    )


def purge_keys(session: Session, *, older_than: datetime) -> int:
    """Delete records created before ``older_than``; returns how many."""
    return session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.created_at < older_than)
    ).rowcount


def _take_over(session: Session, record: IdempotencyRecord, now: datetime) -> bool:
    taken = session.execute(
        update(IdempotencyRecord)
        .where(
            IdempotencyRecord.id == record.id,
            IdempotencyRecord.status == IdempotencyStatus.IN_FLIGHT,
            IdempotencyRecord.created_at == record.created_at,
        )
        .values(created_at=now)
    ).rowcount
    return taken == 1
