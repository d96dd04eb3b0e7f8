"""Webhook intake: verify, store, process; and the retry of what could not be processed.

Order of checks for ``POST /webhooks``: size (413), signature (401), then, with the delivery
stored in the inbox, JSON (400) and validation (422), then processing. The inbox row is
inserted first in the processing transaction, so twenty copies of one delivery queue
behind the first on the unique (merchant, ``webhook-id``) key and then answer
``duplicate``. The row commits with its outcome:

* ``processed`` with its effects (200);
* ``waiting`` for its invoice or customer (202);
* ``rejected`` when invalid (400 or 422), never to be processed;
* ``pending`` when processing failed on something passing (202): its effects were rolled
  back, and :func:`retry_due` runs it again with exponential backoff until the attempt
  limit, after which it is ``dead`` and waits for an operator.

With the high-load intake (``LOYALTY_WEBHOOK_INTAKE=queue``) a verified delivery is only
stored, ``queued`` (202 ``accepted``), and a worker applies it later
(:mod:`loyalty_plugin.services.intake.queue`); the outcomes are the same.

:func:`process_host_event` is the same path for a host written in Python: no signature, the
rest identical.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Integer, String, bindparam, select, true
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from loyalty_plugin.domain.errors import LoyaltyError, NotFound, ValidationError
from loyalty_plugin.domain.signatures import (
    MAX_ID_LENGTH,
    SignatureError,
    check_headers,
    verify,
)
from loyalty_plugin.models import InboxStatus, Merchant, WebhookEvent
from loyalty_plugin.schemas.body import InvalidJSON, is_json_type, parse_json
from loyalty_plugin.schemas.webhooks import InvalidEvent, load_event
from loyalty_plugin.services import metrics
from loyalty_plugin.services.audit import Actor, record_change
from loyalty_plugin.services.intake import host_events
from loyalty_plugin.services.intake.lanes import lane_of
from loyalty_plugin.services.merchants.secrets import (
    forget_keys,
    known_keys,
    merchant_with_secrets,
)
from loyalty_plugin.services.spending.settings import merchant_settings
from loyalty_plugin.services.transaction import run_in_transaction

log = logging.getLogger(__name__)

#: Headers never stored with a delivery.
PRIVATE_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})
#: What a body sent with another content type is told.
JSON_ONLY = "send the body as JSON, with the header 'Content-Type: application/json'"
#: Longest pause between two retries of a failing event.
MAX_BACKOFF = timedelta(hours=6)
#: ``LOYALTY_WEBHOOK_INTAKE``: apply each event in its request, or store it for a worker.
INTAKE_MODES = ("sync", "queue")


@dataclass(frozen=True, kw_only=True)
class IntakeSettings:
    """The deployment settings intake needs (``LOYALTY_*`` configuration)."""

    default_merchant: str = "default"
    max_body_bytes: int = 1_048_576
    #: First retry delay; it doubles with each failed attempt.
    retry_base: timedelta = timedelta(seconds=30)
    #: Failed attempts after which an event is dead-lettered.
    max_attempts: int = 10
    #: High-load intake: store verified deliveries as ``queued`` for a worker (202).
    queue: bool = False
    #: Events a worker applies per transaction.
    batch_size: int = 100

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> IntakeSettings:
        """The settings from the ``LOYALTY_*`` configuration."""
        mode = str(config["LOYALTY_WEBHOOK_INTAKE"]).strip().lower()
        if mode not in INTAKE_MODES:
            raise ValueError(f"LOYALTY_WEBHOOK_INTAKE is one of {', '.join(INTAKE_MODES)}")
        return cls(
            default_merchant=config["LOYALTY_DEFAULT_MERCHANT"],
            max_body_bytes=int(config["LOYALTY_WEBHOOK_MAX_BYTES"]),
            retry_base=timedelta(seconds=int(config["LOYALTY_RETRY_BASE_SECONDS"])),
            max_attempts=int(config["LOYALTY_WEBHOOK_MAX_ATTEMPTS"]),
            queue=mode == "queue",
            batch_size=max(1, int(config["LOYALTY_INTAKE_BATCH_SIZE"])),
        )


@dataclass(frozen=True, slots=True)
class Answer:
    """The HTTP status and JSON body the host gets."""

    status: int
    body: dict[str, Any]


class ParsedBody:
    """A body and its JSON, parsed at most once: the merchant's claim, the queue's type and
    lane, and the validation all read it (issue 20). Readers must not change the document."""

    __slots__ = ("_document", "_error", "_parsed", "raw")

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self._parsed = False
        self._document: Any = None
        self._error: InvalidJSON | None = None

    def document(self) -> Any:
        """The decoded JSON; raises :class:`InvalidJSON` (each time) for a body that is not."""
        if not self._parsed:
            try:
                self._document = parse_json(self.raw)
            except InvalidJSON as error:
                self._error = error
            self._parsed = True
        if self._error is not None:
            raise InvalidJSON(str(self._error))
        return self._document


@dataclass(frozen=True, kw_only=True)
class Delivery:
    """A delivery that passed (or, for a Python host, skipped) the signature check."""

    merchant_id: str
    webhook_id: str
    body: bytes
    headers: dict[str, str]
    source: str
    #: The merchant's row, read by the signature check; ``None`` when the queue's intake
    #: verified with the signing keys it kept (see ``stamp``).
    merchant: Merchant | None = None
    #: The settings stamp (token, version) of the kept signing keys that verified it: the
    #: queue inserts the delivery only if the merchant's row still shows it.
    stamp: tuple[str, int] | None = None
    #: The body's JSON, parsed once (by the signature check, which reads the merchant's id).
    parsed: ParsedBody | None = None
    body_sha256: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "body_sha256", hashlib.sha256(self.body).hexdigest())
        if self.parsed is None:
            object.__setattr__(self, "parsed", ParsedBody(self.body))

    def document(self) -> Any:
        """The body's JSON; raises :class:`InvalidJSON`."""
        assert self.parsed is not None  # noqa: S101 - set by __post_init__
        return self.parsed.document()


def receive_webhook(
    session: Session,
    *,
    body: bytes,
    headers: Mapping[str, str],
    hooks: Any,
    settings: IntakeSettings,
    now: datetime,
) -> Answer:
    """Handle one ``POST /webhooks``: the whole intake, committed; returns the answer."""
    if len(body) > settings.max_body_bytes:
        return _error(413, "payload_too_large", f"the body is over {settings.max_body_bytes} bytes")
    lowered = {name.lower(): value for name, value in headers.items()}
    if body and not is_json_type(lowered.get("content-type", "")):
        return _error(415, "unsupported_media_type", JSON_ONLY, {"content-type": [JSON_ONLY]})
    stored = {k: v for k, v in lowered.items() if k not in PRIVATE_HEADERS}
    parsed = ParsedBody(body)
    if settings.queue:
        answer = _enqueue_alone(session, lowered, stored, parsed, settings.default_merchant, now)
        if answer is not None:
            return answer

    def identify(s: Session) -> Delivery | Answer:
        try:
            if settings.queue:
                merchant_id, stamp = _verified_keys(s, lowered, parsed, settings, now)
                merchant = None
            else:
                merchant, stamp = _verified_merchant(s, lowered, parsed, settings, now), None
                merchant_id = merchant.id
        except Unverified as refusal:
            return refusal.answer()
        return Delivery(
            merchant_id=merchant_id,
            merchant=merchant,
            stamp=stamp,
            parsed=parsed,
            webhook_id=lowered["webhook-id"],
            body=body,
            headers=stored,
            source="webhook",
        )

    return accept(session, identify, hooks=hooks, settings=settings, now=now)


def process_host_event(
    session: Session,
    event: Mapping[str, Any],
    *,
    event_id: str,
    hooks: Any,
    settings: IntakeSettings,
    now: datetime,
) -> Answer:
    """Process an event dict exactly as if its JSON had been posted to ``/webhooks``.

    For a host written in Python that runs the plugin in-process: the same validation, the
    same inbox and the same idempotency, without the signature. ``event_id`` plays the part
    of ``webhook-id``: give a retry the same one. ``Decimal``, ``date`` and ``datetime``
    values are written as strings; a float becomes a JSON number, read back as ``Decimal``.
    """
    if not event_id or len(event_id) > MAX_ID_LENGTH:
        return _error(422, "invalid_event", "event_id must be 1 to 255 characters")
    body = json.dumps(dict(event), default=_json_value).encode()
    merchant_id = str(event.get("merchant_id") or settings.default_merchant)

    def identify(s: Session) -> Delivery | Answer:
        merchant = s.get(Merchant, merchant_id)
        if merchant is None:
            message = f"merchant {merchant_id!r} does not exist"
            return _error(422, "invalid_event", message, {"merchant_id": ["unknown merchant"]})
        return Delivery(
            merchant_id=merchant.id,
            merchant=merchant,
            webhook_id=event_id,
            body=body,
            headers={"content-type": "application/json"},
            source="python",
        )

    return accept(session, identify, hooks=hooks, settings=settings, now=now)


def accept(
    session: Session,
    identify: Callable[[Session], Delivery | Answer],
    *,
    hooks: Any,
    settings: IntakeSettings,
    now: datetime,
) -> Answer:
    """Store a delivery and process it in one transaction; keep it whatever happens.

    ``identify`` runs first in the transaction: it checks the signature (or the merchant)
    and returns the delivery, or the answer that refuses it (never stored).
    """
    found: list[Delivery] = []
    stored: list[WebhookEvent] = []
    #: (type, status) of the stored row, read before the commit expires it.
    outcomes: list[tuple[str | None, str]] = []

    tries: list[int] = []

    def work(s: Session) -> Answer:
        stored.clear()
        outcomes.clear()
        tries.append(1)
        delivery = identify(s)
        if isinstance(delivery, Answer):
            return delivery
        found[:] = [delivery]
        # Stored without looking first: a copy already stored fails on the unique key (in
        # the sync path at the flush before the handler runs), and the retry of the
        # transaction answers it as a repeat (one query saved).
        if len(tries) > 1 and (existing := _find(s, delivery)) is not None:
            return _repeat(existing, delivery)
        if settings.queue:
            try:
                return _enqueue(s, delivery, now, outcomes, forget=s)
            except StaleKeys:
                # A secret was created or revoked since the kept keys were read (they are
                # forgotten now): verify again against the database's secrets.
                delivery = identify(s)
                if isinstance(delivery, Answer):
                    return delivery
                return _enqueue(s, delivery, now, outcomes, forget=s)
        answer = _validate_and_handle(s, delivery, hooks, settings, now, stored)
        return _noted(answer, stored, outcomes)

    try:
        answer = run_in_transaction(session, work, attempts=4)
    except LoyaltyError as error:
        answer = _store_outcome(session, found[0], now=now, refused=error, outcomes=outcomes)
    except Exception as error:
        if not found:
            raise
        log.exception("host event %s failed; queued for a retry", found[0].webhook_id)
        answer = _store_outcome(
            session, found[0], now=now, failure=error, settings=settings, outcomes=outcomes
        )
    for event_type, status in outcomes:
        metrics.count_event(event_type, status)
    return answer


def _noted(
    answer: Answer, rows: list[WebhookEvent], outcomes: list[tuple[str | None, str]]
) -> Answer:
    """``answer``, with the rows' (type, status) noted for the metrics."""
    outcomes[:] = [(row.event_type, row.status.value) for row in rows]
    return answer


def retry_due(
    session: Session,
    *,
    hooks: Any,
    settings: IntakeSettings,
    now: datetime,
    limit: int = 100,
    merchant_id: str | None = None,
) -> dict[str, int]:
    """Run the pending events whose retry time has come, and recheck waiting ones (of one
    merchant, or all).

    :returns: how many ended in each status.
    """
    mine = true() if merchant_id is None else WebhookEvent.merchant_id == merchant_id
    due = run_in_transaction(
        session,
        lambda s: list(
            s.scalars(
                select(WebhookEvent.id)
                .where(
                    mine,
                    WebhookEvent.status.in_((InboxStatus.PENDING, InboxStatus.WAITING)),
                    WebhookEvent.next_attempt_at <= now,
                )
                .order_by(WebhookEvent.next_attempt_at, WebhookEvent.id)
                .limit(limit)
            )
        ),
    )
    counts: dict[str, int] = {}
    for event_id in due:
        status = retry_event(session, event_id, hooks=hooks, settings=settings, now=now)
        if status is not None:
            counts[status] = counts.get(status, 0) + 1
    return counts


def retry_event(
    session: Session,
    event_id: int,
    *,
    hooks: Any,
    settings: IntakeSettings,
    now: datetime,
    force: bool = False,
    merchant_id: str | None = None,
    actor: Actor | None = None,
) -> str | None:
    """Process one stored event again; returns its new status (``None`` if not retryable).

    Without ``force`` only a due ``pending`` or ``waiting`` event is taken; with it (an
    operator's ``loyalty events retry``) a ``dead`` one too, at once. Rejected and
    processed events are never run again. With ``merchant_id`` another merchant's event
    is not retryable; with ``actor`` the retry is audited as ``host_event.retried``.
    """
    allowed = [InboxStatus.PENDING, InboxStatus.WAITING] + ([InboxStatus.DEAD] if force else [])
    before: dict[str, Any] = {}

    def work(s: Session) -> str | None:
        query = select(WebhookEvent).where(
            WebhookEvent.id == event_id, WebhookEvent.status.in_(allowed)
        )
        if merchant_id is not None:
            query = query.where(WebhookEvent.merchant_id == merchant_id)
        row = s.scalars(
            query.with_for_update(skip_locked=True).execution_options(populate_existing=True)
        ).one_or_none()
        if row is None or (not force and (row.next_attempt_at or now) > now):
            return None
        before.update(_retry_document(row))
        host_events.handle_stored(s, row, hooks=hooks, now=now, recheck=settings.retry_base)
        _audit_retry(s, row, actor, before, now)
        return row.status.value

    try:
        return run_in_transaction(session, work)
    except LoyaltyError as error:
        return _update_after_failure(
            session, event_id, now=now, refused=error, audit=(actor, before)
        )
    except Exception as error:
        log.exception("retry of host event %s failed", event_id)
        return _update_after_failure(
            session,
            event_id,
            now=now,
            failure=error,
            settings=settings,
            force=force,
            audit=(actor, before),
        )


#: What "retry all failed" takes: the events given up on and those waiting for a retry.
FAILED = (InboxStatus.DEAD, InboxStatus.PENDING)


def retry_failed(
    session: Session,
    *,
    merchant_id: str,
    hooks: Any,
    settings: IntakeSettings,
    now: datetime,
    actor: Actor | None = None,
    limit: int = 500,
) -> dict[str, int]:
    """Retry the merchant's dead and pending events now, oldest first (``loyalty events
    replay`` for one merchant); returns how many ended in each status."""
    ids = run_in_transaction(
        session,
        lambda s: list(
            s.scalars(
                select(WebhookEvent.id)
                .where(WebhookEvent.merchant_id == merchant_id, WebhookEvent.status.in_(FAILED))
                .order_by(WebhookEvent.id)
                .limit(limit)
            )
        ),
    )
    counts: dict[str, int] = {}
    for event_id in ids:
        status = retry_event(
            session,
            event_id,
            hooks=hooks,
            settings=settings,
            now=now,
            force=True,
            merchant_id=merchant_id,
            actor=actor,
        )
        # None: an earlier event of this run released and processed it already.
        label = status or "processed with another"
        counts[label] = counts.get(label, 0) + 1
    return counts


@dataclass(frozen=True)
class InboxPage:
    """One page of a merchant's host events, newest first."""

    events: list[WebhookEvent]
    #: Pass as ``before_id`` for the next (older) page; ``None`` on the last page.
    next_before: int | None


def list_events(
    session: Session,
    *,
    merchant_id: str,
    status: str | None = None,
    event_type: str | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> InboxPage:
    """The merchant's stored host events, newest first, filtered by status and type."""
    query = select(WebhookEvent).where(WebhookEvent.merchant_id == merchant_id)
    if status:
        try:
            query = query.where(WebhookEvent.status == InboxStatus(status))
        except ValueError:
            known = ", ".join(s.value for s in InboxStatus)
            raise ValidationError(f"status is one of {known}", field="status") from None
    if event_type:
        query = query.where(WebhookEvent.event_type == event_type)
    if before_id is not None:
        query = query.where(WebhookEvent.id < before_id)
    rows = list(session.scalars(query.order_by(WebhookEvent.id.desc()).limit(limit + 1)))
    shown = rows[:limit]
    return InboxPage(shown, shown[-1].id if len(rows) > limit else None)


def get_event(session: Session, *, merchant_id: str, event_id: int) -> WebhookEvent:
    """One of the merchant's stored events; :class:`NotFound` for another merchant's."""
    row = session.get(WebhookEvent, event_id)
    if row is None or row.merchant_id != merchant_id:
        raise NotFound(f"event {event_id} does not exist", field="event_id")
    return row


def _retry_document(row: WebhookEvent) -> dict[str, Any]:
    return {"status": row.status.value, "attempts": row.attempts, "last_error": row.last_error}


def _audit_retry(
    session: Session,
    row: WebhookEvent,
    actor: Actor | None,
    before: dict[str, Any],
    now: datetime,
) -> None:
    if actor is None:
        return
    record_change(
        session,
        merchant_id=row.merchant_id,
        actor=actor,
        action="host_event.retried",
        target_type="host_event",
        target_id=row.id,
        before=dict(before),
        after=_retry_document(row),
        now=now,
    )


@dataclass(frozen=True, slots=True)
class Waited:
    """How long a waiting event has waited, and whether that is past its merchant's limit."""

    hours: int
    #: Waited at least the merchant's ``waiting_report_hours``.
    overdue: bool


def waiting_events(
    session: Session, *, now: datetime, merchant_id: str | None = None, limit: int = 50
) -> list[tuple[WebhookEvent, Waited]]:
    """The waiting events, oldest first, each with how long it waited."""
    query = (
        select(WebhookEvent)
        .where(WebhookEvent.status == InboxStatus.WAITING)
        .order_by(WebhookEvent.received_at, WebhookEvent.id)
        .limit(limit)
    )
    if merchant_id:
        query = query.where(WebhookEvent.merchant_id == merchant_id)
    limits: dict[str, timedelta] = {}
    found = []
    for row in session.scalars(query):
        if row.merchant_id not in limits:
            hours = merchant_settings(session, row.merchant_id).waiting_report_hours
            limits[row.merchant_id] = timedelta(hours=hours)
        age = now - row.received_at
        waited = Waited(
            hours=int(age.total_seconds() // 3600), overdue=age >= limits[row.merchant_id]
        )
        found.append((row, waited))
    return found


def backoff(attempts: int, base: timedelta) -> timedelta:
    """Delay before the next try after ``attempts`` failed ones: base, 2x, 4x... up to 6 h."""
    return min(MAX_BACKOFF, base * (2 ** max(0, attempts - 1)))


# -- internals ------------------------------------------------------------------------------


class Unverified(Exception):
    """A delivery refused before any secret matched: the answer says why, never a secret."""

    def __init__(self, message: str, *, field: str, status: int = 401) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.status = status

    def answer(self) -> Answer:
        code = "invalid_signature" if self.status == 401 else "invalid_event"
        return _error(self.status, code, self.message, {self.field: [self.message]})


def _verified_merchant(
    session: Session,
    headers: dict[str, str],
    body: ParsedBody,
    settings: IntakeSettings,
    now: datetime,
) -> Merchant:
    """The merchant whose secret signed the body; raises :class:`Unverified`.

    The headers are checked before the body is read, and the body is checked only under
    the secrets of the one merchant it names (or the default merchant), so an unsigned
    request costs one merchant's HMACs at most, however many merchants there are.
    """
    try:
        check_headers(headers, now)
    except SignatureError as error:
        raise Unverified(str(error), field=error.field) from None
    merchant_id, named = _claimed_merchant(body, settings.default_merchant)
    assumed = (
        ""
        if named
        else (
            f" (the body names no merchant_id, so the default merchant {merchant_id!r} was "
            "assumed: send merchant_id)"
        )
    )
    merchant, secrets = merchant_with_secrets(session, merchant_id, now=now)
    if merchant is None:
        raise Unverified(f"merchant {merchant_id!r} does not exist{assumed}", field="merchant_id")
    if not secrets:
        raise Unverified(
            f"merchant {merchant_id!r} has no active signing secret{assumed}; make one with "
            f"`loyalty secrets create --merchant {merchant_id}`",
            field="merchant_id",
        )
    try:
        verify(secrets, headers=headers, body=body.raw, now=now)
    except SignatureError:
        raise Unverified(
            f"no signature matches an active secret of merchant {merchant_id!r}{assumed}",
            field="webhook-signature",
        ) from None
    return merchant


def _verified_keys(
    session: Session,
    headers: dict[str, str],
    body: ParsedBody,
    settings: IntakeSettings,
    now: datetime,
) -> tuple[str, tuple[str, int] | None]:
    """The queue's signature check: the merchant whose secret signed the body, and the stamp
    of the kept signing keys that verified it (``None`` when read from the database here).

    The same check as :func:`_verified_merchant`, without its query when this process kept
    the merchant's keys (:func:`~loyalty_plugin.services.merchants.secrets.known_keys`) and
    one of them verifies; the insert then checks their stamp. Anything else (no keys kept,
    no kept key verifies, a refusal) goes to the database, as before.
    """
    kept = _verified_by_kept_keys(session, headers, body, settings.default_merchant, now)
    if kept is not None:
        return kept
    return _verified_merchant(session, headers, body, settings, now).id, None


def _verified_by_kept_keys(
    session: Session, headers: dict[str, str], body: ParsedBody, default: str, now: datetime
) -> tuple[str, tuple[str, int]] | None:
    """The merchant and the stamp of the kept keys that verify the delivery, with no query;
    ``None`` when none are kept or none verifies (the database then decides, or refuses)."""
    try:
        check_headers(headers, now)
        merchant_id, _named = _claimed_merchant(body, default)
    except (SignatureError, Unverified):
        return None
    keys = known_keys(session, merchant_id)
    if keys is None or not (secrets := keys.active(now)):
        return None
    try:
        verify(secrets, headers=headers, body=body.raw, now=now)
    except SignatureError:
        return None
    return merchant_id, (keys.token, keys.version)


def _enqueue_alone(
    session: Session,
    headers: dict[str, str],
    stored: dict[str, str],
    body: ParsedBody,
    default: str,
    now: datetime,
) -> Answer | None:
    """The queue's intake on PostgreSQL without a transaction: verified by kept keys,
    stored by its insert alone in autocommit (issue 20).

    The insert checks the keys' stamp and is atomic and durable by itself, so the
    ``BEGIN`` and ``COMMIT`` round trips of a transaction add nothing to it. ``None`` when
    this path does not apply (another database: MariaDB sends no ``BEGIN`` and would pay
    two ``SET autocommit`` instead; no kept key verifies; a copy already stored; a stale
    stamp; a database error): the transaction's path then answers as before.
    """
    engine = session.get_bind()
    if engine.dialect.name != "postgresql":
        return None
    verified = _verified_by_kept_keys(session, headers, body, default, now)
    if verified is None:
        return None
    merchant_id, stamp = verified
    delivery = Delivery(
        merchant_id=merchant_id,
        stamp=stamp,
        parsed=body,
        webhook_id=headers["webhook-id"],
        body=body.raw,
        headers=stored,
        source="webhook",
    )
    outcomes: list[tuple[str | None, str]] = []
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            answer = _enqueue(connection, delivery, now, outcomes, forget=session)
    except (StaleKeys, DBAPIError):
        # A copy (the unique key), a stale stamp, or a connection lost on the way: the
        # transaction's path retries and answers; an insert that did commit is then a copy.
        return None
    for event_type, status in outcomes:
        metrics.count_event(event_type, status)
    return answer


def _claimed_merchant(body: ParsedBody, default: str) -> tuple[str, bool]:
    """The merchant the body names, and whether it names one (else: the default merchant).

    A body that is not a JSON object names none; a ``merchant_id`` that is neither a string
    nor an integer is refused, unverified (422), rather than tried under every merchant.
    """
    try:
        document = body.document()
    except InvalidJSON:
        return default, False
    if not isinstance(document, dict) or document.get("merchant_id") is None:
        return default, False
    claimed = document["merchant_id"]
    if isinstance(claimed, bool) or not isinstance(claimed, str | int) or not str(claimed):
        raise Unverified(
            "must be a string or an integer naming the merchant", field="merchant_id", status=422
        )
    return str(claimed), True


def _find(session: Session, delivery: Delivery) -> WebhookEvent | None:
    return session.scalars(
        select(WebhookEvent).where(
            WebhookEvent.merchant_id == delivery.merchant_id,
            WebhookEvent.webhook_id == delivery.webhook_id,
        )
    ).one_or_none()


def _insert(
    session: Session, delivery: Delivery, *, status: InboxStatus, now: datetime
) -> WebhookEvent:
    row = WebhookEvent(
        merchant_id=delivery.merchant_id,
        webhook_id=delivery.webhook_id,
        status=status,
        source=delivery.source,
        headers=delivery.headers,
        body=_stored_body(delivery.body),
        body_sha256=delivery.body_sha256,
        received_at=now,
        attempts=0,
    )
    session.add(row)
    return row


class StaleKeys(Exception):
    """The merchant's row no longer shows the stamp of the signing keys that verified."""


def _enqueue(
    db: Session | Connection,
    delivery: Delivery,
    now: datetime,
    outcomes: list[tuple[str | None, str]],
    *,
    forget: Session,
) -> Answer:
    """Store a delivery for a worker, unvalidated, with its type and lane when readable.

    One ``INSERT ... RETURNING`` (a Core statement: the row is not needed as an object).
    With a ``stamp`` it is ``INSERT ... SELECT`` from the merchant's row showing that stamp,
    so a secret created or revoked since the keys were read inserts nothing, atomically
    with the insert: :class:`StaleKeys` is raised and the keys are forgotten.
    """
    event_type = lane = None
    with contextlib.suppress(InvalidJSON):
        document = delivery.document()
        if isinstance(document, dict) and isinstance(document.get("type"), str):
            event_type = document["type"][:64]
        lane = lane_of(db, document, merchant_id=delivery.merchant_id)
    values = {
        "merchant_id": delivery.merchant_id,
        "webhook_id": delivery.webhook_id,
        "event_type": event_type,
        "status": InboxStatus.QUEUED,
        "source": delivery.source,
        "headers": delivery.headers,
        "body": _stored_body(delivery.body),
        "body_sha256": delivery.body_sha256,
        "received_at": now,
        "attempts": 0,
        "lane": lane,
    }
    if delivery.stamp is None:
        event_id = db.execute(_QUEUE_INSERT, values).scalar_one()
    else:
        token, version = delivery.stamp
        stamp = {"stamp_token": token, "stamp_version": version}
        event_id = db.execute(_QUEUE_INSERT_IF_STAMP, values | stamp).scalar()
        if event_id is None:
            forget_keys(forget, delivery.merchant_id)
            raise StaleKeys(delivery.merchant_id)
    outcomes[:] = [(event_type, InboxStatus.QUEUED.value)]
    return Answer(202, {"status": "accepted", "event_id": event_id, "event_status": "queued"})


def _queue_inserts() -> tuple[Any, Any]:
    """The queue's two inserts, built once: plain, and only while the merchant's row shows
    the stamp of the keys that verified (``stamp_token``, ``stamp_version``)."""
    events, merchants = WebhookEvent.__table__, Merchant.__table__
    names = (
        "merchant_id", "webhook_id", "event_type", "status", "source", "headers", "body",
        "body_sha256", "received_at", "attempts", "lane",
    )  # fmt: skip
    params = [bindparam(name, type_=events.c[name].type) for name in names]
    plain = events.insert().values(dict(zip(names, params, strict=True)))
    source = select(*params).where(
        merchants.c.id == bindparam("merchant_id", type_=merchants.c.id.type),
        merchants.c.settings_token == bindparam("stamp_token", type_=String()),
        merchants.c.settings_version == bindparam("stamp_version", type_=Integer()),
    )
    checked = events.insert().from_select([events.c[name] for name in names], source)
    return plain.returning(events.c.id), checked.returning(events.c.id)


_QUEUE_INSERT, _QUEUE_INSERT_IF_STAMP = _queue_inserts()


def _stored_body(body: bytes) -> str:
    """The body kept as text; a NUL byte (never valid JSON) cannot be stored in a text
    column."""
    return body.decode("utf-8", errors="replace").replace("\x00", "\ufffd")


def _validate_and_handle(
    session: Session,
    delivery: Delivery,
    hooks: Any,
    settings: IntakeSettings,
    now: datetime,
    stored: list[WebhookEvent],
) -> Answer:
    """Read the body, store it with what was learnt, and handle it if valid."""
    row = _insert(session, delivery, status=InboxStatus.PENDING, now=now)
    stored.append(row)
    try:
        document = delivery.document()
    except InvalidJSON as error:
        host_events.reject(row, _error_body("invalid_json", str(error)), status_code=400, now=now)
        return _answer(row)
    try:
        envelope, data = load_event(document)
    except InvalidEvent as error:
        _note_type(row, document)
        message = f"the event is not valid: {error}"
        host_events.reject(
            row, _error_body("invalid_event", message, error.fields), status_code=422, now=now
        )
        return _answer(row)
    row.event_type = envelope["type"]
    row.occurred_at = envelope["occurred_at"]
    # The insert is flushed only now, with the type known: one statement instead of two.
    # A concurrent copy of the delivery then waits on the unique key here.
    session.flush()
    host_events.handle(
        session,
        row=row,
        envelope=envelope,
        data=data,
        merchant=delivery.merchant or session.get_one(Merchant, delivery.merchant_id),
        hooks=hooks,
        now=now,
        recheck=settings.retry_base,
    )
    return _answer(row)


def _store_outcome(
    session: Session,
    delivery: Delivery,
    *,
    now: datetime,
    refused: LoyaltyError | None = None,
    failure: Exception | None = None,
    settings: IntakeSettings | None = None,
    outcomes: list[tuple[str | None, str]] | None = None,
) -> Answer:
    """After the processing transaction rolled back: keep the delivery, rejected or pending."""
    noted = [] if outcomes is None else outcomes

    def work(s: Session) -> Answer:
        noted.clear()
        if (existing := _find(s, delivery)) is not None:
            return _repeat(existing, delivery)
        row = _insert(s, delivery, status=InboxStatus.PENDING, now=now)
        with contextlib.suppress(InvalidJSON):
            _note_type(row, delivery.document())
        if refused is not None:
            host_events.reject(row, host_events.refusal(refused), status_code=422, now=now)
        else:
            assert settings is not None and failure is not None  # noqa: S101
            _schedule_retry(row, failure, settings, now)
        s.flush()  # the answer names the stored row's id
        return _noted(_answer(row), [row], noted)

    return run_in_transaction(session, work)


def _update_after_failure(
    session: Session,
    event_id: int,
    *,
    now: datetime,
    refused: LoyaltyError | None = None,
    failure: Exception | None = None,
    settings: IntakeSettings | None = None,
    force: bool = False,
    audit: tuple[Actor | None, dict[str, Any]] = (None, {}),
) -> str:
    def work(s: Session) -> str:
        row = s.get(WebhookEvent, event_id, with_for_update=True, populate_existing=True)
        assert row is not None  # noqa: S101 - inbox rows are never deleted
        if refused is not None:
            host_events.reject(row, host_events.refusal(refused), status_code=422, now=now)
        else:
            assert settings is not None and failure is not None  # noqa: S101
            if force and row.status == InboxStatus.DEAD:
                row.attempts = settings.max_attempts - 1
            _schedule_retry(row, failure, settings, now)
        _audit_retry(s, row, audit[0], audit[1], now)
        return row.status.value

    return run_in_transaction(session, work)


def _schedule_retry(
    row: WebhookEvent, failure: Exception, settings: IntakeSettings, now: datetime
) -> None:
    row.attempts += 1
    row.last_error = f"{type(failure).__name__}: {failure}"[:2000]
    if row.attempts >= settings.max_attempts:
        row.status = InboxStatus.DEAD
        row.next_attempt_at = None
        log.error("host event %s is dead after %d attempts", row.id, row.attempts)
    else:
        row.status = InboxStatus.PENDING
        row.next_attempt_at = now + backoff(row.attempts, settings.retry_base)


def _note_type(row: WebhookEvent, document: Any) -> None:
    if isinstance(document, dict) and isinstance(document.get("type"), str):
        row.event_type = document["type"][:64]


def _repeat(row: WebhookEvent, delivery: Delivery) -> Answer:
    """The answer to a ``webhook-id`` seen before."""
    if row.body_sha256 != delivery.body_sha256:
        return _error(
            422,
            "webhook_id_reused",
            f"webhook-id {delivery.webhook_id!r} was already used for another body",
            {"webhook-id": ["already used for another body"]},
        )
    if row.status == InboxStatus.REJECTED:
        return _answer(row)
    body = {
        "status": "duplicate",
        "event_id": row.id,
        "event_status": row.status.value,
        "result": row.result,
    }
    if row.status == InboxStatus.WAITING:
        # Why it still waits, reported louder once overdue (the host retries for days).
        body["reason"] = (row.result or {}).get("reason")
    return Answer(200, body)


def _answer(row: WebhookEvent) -> Answer:
    """The answer a stored delivery gets, from its status."""
    if row.status == InboxStatus.PROCESSED:
        return Answer(200, {"status": "processed", "event_id": row.id, "result": row.result})
    if row.status == InboxStatus.REJECTED:
        result = row.result or {}
        return Answer(result.get("http_status", 422), {"error": result.get("error", {})})
    reason = (row.result or {}).get("reason") or "processing failed; it will be retried"
    return Answer(
        202,
        {
            "status": "queued",
            "event_id": row.id,
            "event_status": row.status.value,
            "reason": reason,
        },
    )


def _error_body(code: str, message: str, fields: dict | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "fields": fields or {}}


def _error(status: int, code: str, message: str, fields: dict | None = None) -> Answer:
    return Answer(status, {"error": _error_body(code, message, fields)})


def _json_value(value: object) -> str:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
