"""API idempotency records (claim a key, remember the answer, replay it, forget old ones),
and business facts a host event counts once (:func:`claim_fact`).

The behaviour follows the IETF Idempotency-Key draft and Stripe: a repeat with the same key
and request gets the first answer (errors included); the same key with another request is
refused; a repeat while the first is still running is told to wait.

A claim is identified by its record and its ``created_at`` (the *lease*). The request that
holds it locks the record first thing in its work transaction (:func:`hold_key`), so a
repeat can tell a live request (the row is locked: ``SKIP LOCKED`` finds nothing) from a
dead one (nothing holds it). A repeat may take over only an old claim nobody holds, and
taking over changes ``created_at``: the first request, if it was alive after all, then
finds its lease gone when it locks the record and stops before doing anything.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, select, update
from sqlalchemy.orm import Session

from loyalty_plugin.models import EventKey, IdempotencyRecord, IdempotencyStatus

#: An in-flight claim older than this, that no transaction holds, is from a request that died.
ABANDONED_AFTER = timedelta(minutes=5)


class ClaimLost(Exception):
    """The key was taken over by a repeat: this request must not do the work."""


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
    """The claim, the record's id, and the stored answer for a replay.

    ``claimed_at`` is set when the claim is ``ACQUIRED``: with ``record_id`` it is the
    lease that :func:`hold_key`, :func:`complete_key` and :func:`release_key` check.
    """

    claim: Claim
    record_id: int
    status: int | None = None
    body: Any = None
    claimed_at: datetime | None = None
    #: The first answer's exact text, when it was stored.
    text: str | None = None


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
        return Outcome(Claim.ACQUIRED, record.id, claimed_at=now)
    if record.fingerprint != fingerprint:
        return Outcome(Claim.MISMATCH, record.id)
    if record.status == IdempotencyStatus.DONE:
        return Outcome(
            Claim.REPLAY,
            record.id,
            record.response_status,
            record.response_body,
            text=record.response_text,
        )
    if now - record.created_at > ABANDONED_AFTER and _take_over(session, record, now):
        return Outcome(Claim.ACQUIRED, record.id, claimed_at=now)
    return Outcome(Claim.IN_FLIGHT, record.id)


def hold_key(session: Session, *, record_id: int, claimed_at: datetime) -> None:
    """Lock the claim for the rest of the work transaction; :class:`ClaimLost` if taken over.

    Call it before the work, in the work's own transaction. While the lock is held a repeat
    sees the request alive (on SQLite the transaction's ``BEGIN IMMEDIATE`` write lock keeps
    repeats out altogether).
    """
    held = session.scalar(
        select(IdempotencyRecord.id).where(*_lease(record_id, claimed_at)).with_for_update()
    )
    if held is None:
        raise ClaimLost(f"idempotency record {record_id} was taken over")


def complete_key(
    session: Session,
    *,
    record_id: int,
    claimed_at: datetime,
    status: int,
    body: Any,
    now: datetime,
    text: str | None = None,
) -> bool:
    """Store the answer of the request that holds the key; False if it no longer holds it.

    ``text`` is the answer exactly as sent, so that a replay is the same bytes.
    """
    return (
        session.execute(
            update(IdempotencyRecord)
            .where(*_lease(record_id, claimed_at))
            .values(
                status=IdempotencyStatus.DONE,
                response_status=status,
                response_body=body,
                response_text=text,
                completed_at=now,
            )
        ).rowcount
        == 1
    )


def release_key(session: Session, *, record_id: int, claimed_at: datetime) -> None:
    """Forget an in-flight key whose request failed unexpectedly, so a retry may run."""
    session.execute(delete(IdempotencyRecord).where(*_lease(record_id, claimed_at)))


def purge_keys(session: Session, *, older_than: datetime, merchant_id: str | None = None) -> int:
    """Delete records created before ``older_than`` (of one merchant, or all); how many."""
    old = IdempotencyRecord.created_at < older_than
    if merchant_id is not None:
        old = old & (IdempotencyRecord.merchant_id == merchant_id)
    return session.execute(delete(IdempotencyRecord).where(old)).rowcount


def _lease(record_id: int, claimed_at: datetime) -> tuple[ColumnElement[bool], ...]:
    """The conditions under which a request still holds its claim."""
    return (
        IdempotencyRecord.id == record_id,
        IdempotencyRecord.status == IdempotencyStatus.IN_FLIGHT,
        IdempotencyRecord.created_at == claimed_at,
    )


def _take_over(session: Session, record: IdempotencyRecord, now: datetime) -> bool:
    """Move an old claim to this request, unless the request holding it is still alive.

    ``SKIP LOCKED`` finds nothing while the first request's transaction holds the row
    (PostgreSQL, MariaDB); SQLite has no row locks, but its write lock already kept this
    transaction waiting until the first one ended.
    """
    unheld = session.scalar(
        select(IdempotencyRecord.id)
        .where(*_lease(record.id, record.created_at))
        .with_for_update(skip_locked=True)
    )
    if unheld is None:
        return False
    taken = session.execute(
        update(IdempotencyRecord)
        .where(*_lease(record.id, record.created_at))
        .values(created_at=now)
    ).rowcount
    return taken == 1


# -- business facts counted once -------------------------------------------------------------


def counted_fact(session: Session, *, merchant_id: str, key: str) -> EventKey | None:
    """The record of a business fact already counted (a payment, a refund, a registration,
    a birthday: see :func:`~loyalty_plugin.domain.host_events.natural_key`), if it is."""
    return session.scalars(
        select(EventKey).where(EventKey.merchant_id == merchant_id, EventKey.key == key)
    ).one_or_none()


def count_fact(session: Session, *, merchant_id: str, key: str, event_id: int | None) -> None:
    """Record the fact ``key`` as counted by the host delivery ``event_id`` (``None``: not
    a delivery, e.g. a job).

    Flushed at once: a concurrent copy fails here on the (merchant, key) unique key, before
    any ledger write, and its retry finds this one.
    """
    session.add(EventKey(merchant_id=merchant_id, key=key, event_id=event_id))
    session.flush()


def claim_fact(
    session: Session, *, merchant_id: str, key: str, event_id: int | None
) -> EventKey | None:
    """Count ``key`` now (``None``), or the record of whoever counted it before."""
    counted = counted_fact(session, merchant_id=merchant_id, key=key)
    if counted is None:
        count_fact(session, merchant_id=merchant_id, key=key, event_id=event_id)
    return counted
