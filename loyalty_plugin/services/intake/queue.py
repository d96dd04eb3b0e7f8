"""The high-load intake's worker: apply queued host events in batches, exactly once.

``/webhooks`` in ``queue`` mode only verifies and stores a delivery (``queued``). A worker
(``loyalty intake work``, or the ``apply-host-events`` job) calls :func:`apply_queued`:

* it claims the oldest queued rows in one transaction with ``FOR UPDATE SKIP LOCKED``
  (PostgreSQL, MariaDB), so several workers on several machines share the queue and never
  take the same row; SQLite has one writer at a time, so run one worker there;
* it applies only the rows that come first in their lane (customer): a row whose lane has
  an earlier queued row that another worker holds waits for the next batch, so each
  customer's events are applied in arrival order;
* events run with the synchronous path's handler
  (:func:`~loyalty_plugin.services.intake.host_events.handle`), first all in one go (what
  the transaction remembers serves the whole batch); if one raises, the batch is rolled back
  and applied again with each event in a savepoint: an event the rules refuse is
  ``rejected``, one that fails on something passing is ``pending`` with the same backoff and
  ``dead`` state as the synchronous path's retry (:func:`~.webhooks.retry_due` takes it
  from there), and neither undoes the rest of its batch;
* the batch commits with every row's new status, so a row is applied once: a crash before
  the commit leaves the whole batch queued, to be claimed again.

If the batch transaction itself fails (a deadlock, a lost connection), its events are
applied again one per transaction, and one that still fails is left ``pending`` for a retry.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from loyalty_plugin.domain.errors import LoyaltyError
from loyalty_plugin.models import Customer, InboxStatus, Merchant, WebhookEvent
from loyalty_plugin.schemas.body import InvalidJSON, parse_json
from loyalty_plugin.schemas.webhooks import InvalidEvent, load_event
from loyalty_plugin.services import metrics
from loyalty_plugin.services.intake import host_events
from loyalty_plugin.services.intake.lanes import CUSTOMER_LANE
from loyalty_plugin.services.intake.webhooks import (
    IntakeSettings,
    _error_body,
    _note_type,
    _schedule_retry,
    _update_after_failure,
)
from loyalty_plugin.services.ledger.entries import lock_customer_accounts
from loyalty_plugin.services.memo import remember
from loyalty_plugin.services.settings_cache import note_stamp
from loyalty_plugin.services.transaction import is_retryable, run_in_transaction

log = logging.getLogger(__name__)

#: MariaDB's "SAVEPOINT ... does not exist": the transaction was rolled back under it.
_NO_SAVEPOINT = 1305


@dataclass
class Batch:
    """What one call of :func:`apply_queued` did."""

    #: Rows claimed (applied or left for their lane's turn).
    claimed: int = 0
    #: Rows left queued because an earlier row of their lane was held by another worker.
    deferred: int = 0
    #: How many applied rows ended in each status (``processed``, ``waiting``...).
    statuses: dict[str, int] = field(default_factory=dict)
    #: The applied rows' (type, status, seconds from receipt to commit), for metrics.
    applied: list[tuple[str | None, str, float]] = field(default_factory=list)

    @property
    def done(self) -> int:
        """Rows that left the queue."""
        return sum(self.statuses.values())


def apply_queued(
    session: Session,
    *,
    hooks: Any,
    settings: IntakeSettings,
    now: datetime,
    limit: int | None = None,
    merchant_id: str | None = None,
) -> Batch:
    """Claim up to ``limit`` queued events (``settings.batch_size``) and apply them in one
    transaction; returns what happened. Commits."""
    limit = limit or settings.batch_size
    claimed: list[int] = []

    def work(s: Session, *, savepoints: bool) -> Batch:
        return _apply_batch(
            s, limit, merchant_id, claimed, hooks, settings, now, savepoints=savepoints
        )

    try:
        # Optimistic: no savepoint per event, so what a transaction remembers (a merchant's
        # programs...) serves the whole batch. Any event that raises sends the batch to
        # the careful path below, where it is kept apart from the others.
        batch = run_in_transaction(session, lambda s: work(s, savepoints=False))
    except Exception as error:
        log.info("a batch of queued host events met %s; applying it event by event", error)
        try:
            batch = run_in_transaction(session, lambda s: work(s, savepoints=True))
        except Exception:
            log.exception(
                "a batch of %d queued host events failed; applying them one by one", limit
            )
            batch = _apply_singly(session, list(claimed), hooks, settings, now)
    _log_batch(batch)
    for event_type, status, seconds in batch.applied:
        metrics.count_event(event_type, status)
        metrics.observe_applied(seconds, mode="queue")
    return batch


def queue_backlog(session: Session, *, now: datetime) -> tuple[int, float]:
    """How many events are queued, and the age in seconds of the oldest (0 when none)."""
    count, oldest = session.execute(
        select(func.count(), func.min(WebhookEvent.received_at)).where(
            WebhookEvent.status == InboxStatus.QUEUED
        )
    ).one()
    if not count or oldest is None:
        return 0, 0.0
    return int(count), max(0.0, (now - _aware(oldest, now)).total_seconds())


# -- internals ------------------------------------------------------------------------------


def _apply_batch(
    session: Session,
    limit: int,
    merchant_id: str | None,
    claimed: list[int],
    hooks: Any,
    settings: IntakeSettings,
    now: datetime,
    only: int | None = None,
    *,
    savepoints: bool = True,
) -> Batch:
    rows = _claim(session, limit, merchant_id, only)
    claimed[:] = [row.id for row in rows]
    ready = _first_in_lane(session, rows)
    batch = Batch(claimed=len(rows), deferred=len(rows) - len(ready))
    merchants = _merchants_of(session, ready)
    if not savepoints:
        _read_ahead(session, ready)
    for row in ready:
        merchant = merchants.get(row.merchant_id)
        if savepoints:
            _apply_one(session, row, merchant, hooks, settings, now)
        else:
            _handle(session, row, merchant, hooks, settings, now)
        status = row.status.value
        batch.statuses[status] = batch.statuses.get(status, 0) + 1
        age = (now - _aware(row.received_at, now)).total_seconds()
        batch.applied.append((row.event_type, status, max(0.0, age)))
    return batch


def _claim(
    session: Session, limit: int, merchant_id: str | None, only: int | None
) -> list[WebhookEvent]:
    """The oldest queued rows nobody else holds, locked until this transaction ends."""
    mine = true() if merchant_id is None else WebhookEvent.merchant_id == merchant_id
    query = select(WebhookEvent).where(mine, WebhookEvent.status == InboxStatus.QUEUED)
    if only is not None:
        query = query.where(WebhookEvent.id == only)
    return list(
        session.scalars(
            query.order_by(WebhookEvent.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
    )


def _merchants_of(session: Session, rows: list[WebhookEvent]) -> dict[str, Merchant]:
    """The merchants of ``rows``, read once for the batch with their settings stamps.

    The stamps let every event of the batch answer its settings lookups (expiry policy,
    programs in force, notification switches, endpoint) from the settings cache, as the
    synchronous path does after its signature check; without them each event read them
    all again. Read in the batch's transaction, so a change committed before it applies.
    """
    ids = sorted({row.merchant_id for row in rows})
    if not ids:
        return {}
    found = session.execute(
        select(Merchant, Merchant.settings_token, Merchant.settings_version).where(
            Merchant.id.in_(ids)
        )
    ).all()
    for merchant, token, version in found:
        note_stamp(session, merchant.id, token=token, version=version)
    return {merchant.id: merchant for merchant, _token, _version in found}


def _read_ahead(session: Session, rows: list[WebhookEvent]) -> None:
    """The customers the batch's lanes name, and their accounts locked (in the order of
    their ids), each in one statement for the whole batch, remembered for the transaction:
    each event then finds its customer and locked account without a statement of its own.

    Only for the batch without savepoints: a savepoint's end forgets what was remembered
    (a lock taken inside it may go with it). A customer created, merged or renamed after
    this read is looked up again as before, and an event whose customer is not found here
    looks it up itself.
    """
    named: dict[str, set[str]] = {}
    for row in rows:
        if row.lane and row.lane.startswith(CUSTOMER_LANE):
            named.setdefault(row.merchant_id, set()).add(row.lane.removeprefix(CUSTOMER_LANE))
    for merchant_id, host_ids in named.items():
        customers = session.scalars(
            select(Customer).where(
                Customer.merchant_id == merchant_id,
                Customer.host_customer_id.in_(sorted(host_ids)),
                Customer.merged_into_id.is_(None),
            )
        ).all()
        for customer in customers:
            remember(session, ("customer", merchant_id, customer.host_customer_id), customer)
        lock_customer_accounts(
            session, merchant_id=merchant_id, customer_ids=[c.id for c in customers]
        )


def _first_in_lane(session: Session, rows: list[WebhookEvent]) -> list[WebhookEvent]:
    """The claimed rows no earlier queued row of their lane (held elsewhere) precedes."""
    lanes = {row.lane for row in rows if row.lane}
    if not lanes:
        return rows
    mine = [row.id for row in rows]
    earliest = dict(
        session.execute(
            select(WebhookEvent.lane, func.min(WebhookEvent.id))
            .where(
                WebhookEvent.lane.in_(lanes),
                WebhookEvent.status == InboxStatus.QUEUED,
                WebhookEvent.id.not_in(mine),
                WebhookEvent.id < max(mine),
            )
            .group_by(WebhookEvent.lane)
        ).all()
    )
    return [row for row in rows if not row.lane or row.id < earliest.get(row.lane, row.id + 1)]


def _apply_one(
    session: Session,
    row: WebhookEvent,
    merchant: Merchant | None,
    hooks: Any,
    settings: IntakeSettings,
    now: datetime,
) -> None:
    """Apply one claimed row in a savepoint; record its outcome on the row."""
    try:
        with session.begin_nested():
            _handle(session, row, merchant, hooks, settings, now)
    except LoyaltyError as error:
        host_events.reject(row, host_events.refusal(error), status_code=422, now=now)
    except Exception as error:  # one failing event must not undo its batch
        if _transaction_lost(error):
            raise  # the whole batch is run again (or one by one): see apply_queued
        log.warning("queued host event %s failed: %s", row.id, error)
        _schedule_retry(row, error, settings, now)


def _transaction_lost(error: Exception) -> bool:
    """True when the database rolled back the whole batch, not just the savepoint: a
    deadlock or serialization failure (MariaDB ends the transaction on a deadlock), or the
    savepoint gone with it."""
    if isinstance(error, IntegrityError):
        return False  # a lost insert race: the savepoint's rollback is enough
    orig = getattr(error, "orig", None)
    code = getattr(orig, "args", (None,))[0] if orig is not None else None
    return is_retryable(error) or code == _NO_SAVEPOINT


def _handle(
    session: Session,
    row: WebhookEvent,
    merchant: Merchant | None,
    hooks: Any,
    settings: IntakeSettings,
    now: datetime,
) -> None:
    """The synchronous path's checks and handler, on a stored body."""
    try:
        document = parse_json(row.body.encode())
    except InvalidJSON as error:
        host_events.reject(row, _error_body("invalid_json", str(error)), status_code=400, now=now)
        return
    try:
        envelope, data = load_event(document)
    except InvalidEvent as error:
        _note_type(row, document)
        message = f"the event is not valid: {error}"
        body = _error_body("invalid_event", message, error.fields)
        host_events.reject(row, body, status_code=422, now=now)
        return
    host_events.handle(
        session,
        row=row,
        envelope=envelope,
        data=data,
        merchant=merchant,
        hooks=hooks,
        now=now,
        recheck=settings.retry_base,
    )
    # Noted after the handler, so that they are written by the row's one UPDATE with its
    # outcome: set before, the handler's first query flushed them in an UPDATE of their own.
    row.event_type = envelope["type"]
    row.occurred_at = envelope["occurred_at"]


def _apply_singly(
    session: Session, ids: list[int], hooks: Any, settings: IntakeSettings, now: datetime
) -> Batch:
    """After a failed batch: each of its events in a transaction of its own."""
    total = Batch()
    for event_id in ids:
        claimed: list[int] = []

        def work(s: Session, event_id: int = event_id, claimed: list[int] = claimed) -> Batch:
            return _apply_batch(s, 1, None, claimed, hooks, settings, now, only=event_id)

        try:
            batch = run_in_transaction(session, work)
        except Exception as error:
            log.exception("queued host event %s failed on its own", event_id)
            status = _update_after_failure(
                session, event_id, now=now, failure=error, settings=settings
            )
            batch = Batch(claimed=1, statuses={status: 1})
        total.claimed += batch.claimed
        total.deferred += batch.deferred
        for status, count in batch.statuses.items():
            total.statuses[status] = total.statuses.get(status, 0) + count
        total.applied += batch.applied
    return total


def _log_batch(batch: Batch) -> None:
    if batch.claimed:
        log.info(
            "applied %d queued host events (%s), %d left for their lane's turn",
            batch.done,
            ", ".join(f"{k} {v}" for k, v in sorted(batch.statuses.items())) or "none",
            batch.deferred,
        )


def _aware(moment: datetime, like: datetime) -> datetime:
    """``moment`` with ``like``'s time zone when the database gave it back naive."""
    if moment.tzinfo is None and like.tzinfo is not None:
        return moment.replace(tzinfo=like.tzinfo)
    return moment
