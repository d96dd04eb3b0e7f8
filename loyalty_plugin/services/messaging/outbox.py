"""Webhooks out: outbox rows written with each change, then signed, posted and retried.

:class:`OutboxSink` is attached to a session (see :func:`loyalty_plugin.plugins.bind_session`)
and writes one :class:`~loyalty_plugin.models.OutboxMessage` per outgoing event in the very
transaction of the change, for merchants with an enabled endpoint. :func:`deliver_due`
claims due messages, posts each one signed with every active secret of its merchant, and
records the attempt; a failure is retried with exponential backoff until the limit, then
the message is ``dead``. Delivery is at least once: the host deduplicates on
``webhook-id``, which stays the same on every retry.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select, true
from sqlalchemy.orm import Session

from loyalty_plugin.domain.errors import NotFound, ValidationError
from loyalty_plugin.domain.events import DomainEvent
from loyalty_plugin.domain.signatures import signature_headers
from loyalty_plugin.models import (
    OutboxAttempt,
    OutboxMessage,
    OutboxStatus,
    WebhookEndpoint,
)
from loyalty_plugin.services.audit import SYSTEM, Actor, record_change
from loyalty_plugin.services.ledger.accounts import get_merchant
from loyalty_plugin.services.merchants.secrets import active_secrets
from loyalty_plugin.services.settings_cache import cached, has_stamp
from loyalty_plugin.services.transaction import run_in_transaction

log = logging.getLogger(__name__)

#: The event types sent to the host (contract v1, "Webhooks: plugin to host").
OUTGOING_TYPES = frozenset(
    {
        "points.earned",
        "points.redeemed",
        "points.reversed",
        "points.expiring",
        "points.expired",
        "level.changed",
        "coupon.created",
        "coupon.redeemed",
        "credit.earned",
        "credit.reversed",
        "credit.expiring",
        "credit.expired",
        "credit.spent",
        "credit.returned",
    }
)
#: How long a claimed message is left alone before another worker may take it.
LEASE = timedelta(minutes=2)
#: Longest pause between two tries of one message.
MAX_BACKOFF = timedelta(hours=6)
_ENDPOINTS = "loyalty_outbox_endpoints"

#: ``post(url, body, headers, timeout)`` returns the HTTP status, or raises ``OSError``.
Poster = Callable[[str, bytes, dict[str, str], float], int]


@dataclass(frozen=True, kw_only=True)
class OutboxSettings:
    """The deployment settings delivery needs."""

    max_attempts: int = 12
    retry_base: timedelta = timedelta(seconds=30)
    timeout_seconds: float = 10.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> OutboxSettings:
        """The settings from the ``LOYALTY_*`` configuration."""
        return cls(
            max_attempts=int(config["LOYALTY_OUTBOX_MAX_ATTEMPTS"]),
            retry_base=timedelta(seconds=int(config["LOYALTY_RETRY_BASE_SECONDS"])),
            timeout_seconds=float(config["LOYALTY_OUTBOX_TIMEOUT_SECONDS"]),
        )


class OutboxSink:
    """Writes an outbox row for each outgoing event, inside the event's transaction."""

    def record(self, session: Session, event: DomainEvent) -> None:
        if event.type not in OUTGOING_TYPES or not _wants(session, event.merchant_id, event.type):
            return
        payload = {
            "type": event.type,
            "timestamp": event.occurred_at.isoformat(),
            "merchant_id": event.merchant_id,
            "data": event.payload(),
        }
        session.add(
            OutboxMessage(
                merchant_id=event.merchant_id,
                message_id="msg_" + secrets.token_hex(12),
                event_type=event.type,
                payload=json.loads(json.dumps(payload, default=str)),
                status=OutboxStatus.PENDING,
                attempts=0,
                next_attempt_at=event.occurred_at,
                created_at=event.occurred_at,
            )
        )

    def deliver(self, event: DomainEvent) -> None:
        """Nothing to do after commit: the delivery job posts the rows."""


#: ``set_endpoint(event_types=KEEP)``: leave the endpoint's event types as they are.
KEEP = object()


@dataclass(frozen=True, kw_only=True)
class PingResult:
    """How the endpoint answered a test ping."""

    url: str
    message_id: str
    #: The HTTP status, or ``None`` when no answer came (see ``error``).
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        """The endpoint answered 2xx."""
        return self.error is None


def _checked_types(chosen: Iterable[str] | None) -> list[str] | None:
    if chosen is None:
        return None
    wanted = sorted(set(chosen))
    unknown = [t for t in wanted if t not in OUTGOING_TYPES]
    if unknown:
        raise ValidationError(f"unknown event type {unknown[0]!r}", field="event_types")
    if not wanted:
        raise ValidationError(
            "choose at least one event (or untick Send webhooks)", field="event_types"
        )
    return None if set(wanted) == OUTGOING_TYPES else wanted


def _endpoint_document(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {"url": endpoint.url, "enabled": endpoint.enabled, "event_types": endpoint.event_types}


@dataclass(frozen=True, slots=True)
class _Claimed:
    id: int
    message_id: str
    merchant_id: str
    payload: dict[str, Any]


def deliver_due(
    session: Session,
    *,
    now: datetime,
    settings: OutboxSettings,
    post: Poster | None = None,
    limit: int = 50,
    merchant_id: str | None = None,
) -> dict[str, int]:
    """Post the messages that are due (of one merchant, or all); how many were delivered,
    retried, dead."""
    post = post or http_post
    counts = {"delivered": 0, "retry": 0, "dead": 0}
    started = time.monotonic()
    for message in run_in_transaction(session, lambda s: _claim(s, now, limit, merchant_id)):
        elapsed = time.monotonic() - started
        if elapsed > LEASE.total_seconds() / 2:
            # Past half the lease another worker may take the rest; they wait for it instead.
            break
        # Signed with the time it is posted, so a slow batch never sends a stale timestamp.
        signed_at = now + timedelta(seconds=elapsed)
        outcome = _deliver_one(
            session, message, now=now, signed_at=signed_at, settings=settings, post=post
        )
        counts[outcome] += 1
    return counts


def http_post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST with the standard library; redirects are not followed (they count as failures)."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - http(s) URLs set by an operator
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as error:
        error.close()
        return error.code


def backoff(attempts: int, base: timedelta) -> timedelta:
    """Delay after ``attempts`` failed tries: base, 2x, 4x... up to 6 h."""
    return min(MAX_BACKOFF, base * (2 ** max(0, attempts - 1)))


def set_endpoint(
    session: Session,
    *,
    merchant_id: str,
    url: str,
    now: datetime,
    enabled: bool = True,
    actor: Actor | str = SYSTEM,
    event_types: Iterable[str] | object | None = KEEP,
) -> WebhookEndpoint:
    """Create or change the merchant's endpoint (audited as ``webhook_endpoint.updated``).

    ``event_types``: the outgoing types it receives (at least one of
    :data:`OUTGOING_TYPES`), ``None`` for all of them; left out, they stay as they were.
    """
    get_merchant(session, merchant_id)
    if not url.startswith(("http://", "https://")) or len(url) > 500:
        raise ValidationError("the URL must be http(s) and at most 500 characters", field="url")
    endpoint = session.get(WebhookEndpoint, merchant_id)
    before = None if endpoint is None else _endpoint_document(endpoint)
    if endpoint is None:
        endpoint = WebhookEndpoint(merchant_id=merchant_id, created_at=now)
        session.add(endpoint)
    endpoint.url = url
    endpoint.enabled = enabled
    if event_types is not KEEP:
        endpoint.event_types = _checked_types(event_types)  # type: ignore[arg-type]
    endpoint.updated_at = now
    session.flush()
    session.info.pop(_ENDPOINTS, None)
    after = _endpoint_document(endpoint)
    if before != after:
        record_change(
            session,
            merchant_id=merchant_id,
            actor=actor,
            action="webhook_endpoint.updated",
            target_type="webhook_endpoint",
            target_id=merchant_id,
            before=before,
            after=after,
            now=now,
        )
    return endpoint


def ping_endpoint(
    session: Session,
    *,
    merchant_id: str,
    now: datetime,
    settings: OutboxSettings,
    actor: Actor | str = SYSTEM,
    post: Poster | None = None,
) -> PingResult:
    """Post a signed ``ping`` event to the merchant's endpoint now, and say how it answered.

    Signed like every message, with a fresh ``webhook-id``; nothing is queued or retried,
    and it is sent even while the endpoint is switched off (to test it before turning it
    on). Audited as ``webhook_endpoint.pinged`` with the answer.
    """
    endpoint = session.get(WebhookEndpoint, merchant_id)
    if endpoint is None:
        raise NotFound("set the endpoint's URL first", field="url")
    signing = active_secrets(session, merchant_id, now=now)
    message_id = "msg_" + secrets.token_hex(12)
    status_code, error = None, None
    started = time.monotonic()
    if not signing:
        error = "the merchant has no active signing secret: create one under Webhook secrets"
    else:
        payload = {
            "type": "ping",
            "timestamp": now.isoformat(),
            "merchant_id": merchant_id,
            "data": {"message": "a test from the loyalty admin pages"},
        }
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = signature_headers(
            signing, msg_id=message_id, timestamp=int(now.timestamp()), body=body
        )
        headers |= {"content-type": "application/json", "user-agent": "loyalty-plugin"}
        try:
            status_code = (post or http_post)(endpoint.url, body, headers, settings.timeout_seconds)
        except OSError as failure:
            error = f"{type(failure).__name__}: {failure}"
        else:
            error = None if 200 <= status_code < 300 else f"HTTP {status_code}"
    result = PingResult(
        url=endpoint.url,
        message_id=message_id,
        status_code=status_code,
        error=error[:500] if error else None,
        duration_ms=int((time.monotonic() - started) * 1000),
    )
    record_change(
        session,
        merchant_id=merchant_id,
        actor=actor,
        action="webhook_endpoint.pinged",
        target_type="webhook_endpoint",
        target_id=merchant_id,
        before=None,
        after=dataclasses.asdict(result),
        now=now,
    )
    return result


def retry_message(
    session: Session,
    *,
    message_id: int,
    now: datetime,
    merchant_id: str | None = None,
    actor: Actor | None = None,
) -> OutboxMessage:
    """Queue a dead (or pending) message to be posted at once, with one more attempt.

    With ``merchant_id`` another merchant's message is not found; with ``actor`` the retry
    is audited as ``outbox_message.retried``.
    """
    message = session.get(OutboxMessage, message_id, with_for_update=True)
    if message is None or (merchant_id is not None and message.merchant_id != merchant_id):
        raise NotFound(f"outbox message {message_id} does not exist", field="message_id")
    if message.status != OutboxStatus.DELIVERED:
        before = {"status": message.status.value, "next_attempt_at": message.next_attempt_at}
        message.status = OutboxStatus.PENDING
        message.next_attempt_at = now
        if actor is not None:
            record_change(
                session,
                merchant_id=message.merchant_id,
                actor=actor,
                action="outbox_message.retried",
                target_type="outbox_message",
                target_id=message.message_id,
                before=before,
                after={"status": message.status.value, "next_attempt_at": now},
                now=now,
            )
    session.flush()
    return message


def list_messages(
    session: Session, *, merchant_id: str, limit: int = 50
) -> list[tuple[OutboxMessage, OutboxAttempt | None]]:
    """The merchant's latest outgoing messages, newest first, each with its last attempt."""
    messages = list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.merchant_id == merchant_id)
            .order_by(OutboxMessage.id.desc())
            .limit(limit)
        )
    )
    last: dict[int, OutboxAttempt] = {}
    if messages:
        for attempt in session.scalars(
            select(OutboxAttempt)
            .where(OutboxAttempt.message_id.in_([m.id for m in messages]))
            .order_by(OutboxAttempt.id)
        ):
            last[attempt.message_id] = attempt
    return [(m, last.get(m.id)) for m in messages]


# -- internals ------------------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _wants(session: Session, merchant_id: str, event_type: str) -> bool:
    """Whether the merchant's endpoint is on and receives ``event_type``.

    Within a transaction that read the merchant's settings stamp (a webhook event), the
    answer is kept across requests by :mod:`~loyalty_plugin.services.settings_cache`.
    Otherwise a yes is cached for the session's life (with the types chosen); a no is asked
    again, so an endpoint set up meanwhile is never missed by a long-lived session."""
    if has_stamp(session, merchant_id):
        wanted = cached(session, merchant_id, "endpoint", lambda: _endpoint(session, merchant_id))
        return wanted is not False and (wanted is None or event_type in wanted)
    cache: dict[str, frozenset[str] | None] = session.info.setdefault(_ENDPOINTS, {})
    if merchant_id not in cache:
        wanted = _endpoint(session, merchant_id)
        if wanted is False:
            return False
        cache[merchant_id] = wanted
    chosen = cache[merchant_id]
    return chosen is None or event_type in chosen


def _endpoint(session: Session, merchant_id: str) -> frozenset[str] | Literal[False] | None:
    """The event types the merchant's endpoint receives (``None``: all), ``False`` if it
    has none or it is off."""
    row = session.execute(
        select(WebhookEndpoint.enabled, WebhookEndpoint.event_types).where(
            WebhookEndpoint.merchant_id == merchant_id
        )
    ).first()
    if row is None or not row.enabled:
        return False
    return None if row.event_types is None else frozenset(row.event_types)


def _claim(
    session: Session, now: datetime, limit: int, merchant_id: str | None = None
) -> list[_Claimed]:
    """Take due messages for one lease, so that concurrent workers do not post them twice."""
    mine = true() if merchant_id is None else OutboxMessage.merchant_id == merchant_id
    rows = session.scalars(
        select(OutboxMessage)
        .where(
            mine,
            OutboxMessage.status == OutboxStatus.PENDING,
            OutboxMessage.next_attempt_at <= now,
        )
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for row in rows:
        row.next_attempt_at = now + LEASE
    return [_Claimed(r.id, r.message_id, r.merchant_id, r.payload) for r in rows]


def _deliver_one(
    session: Session,
    message: _Claimed,
    *,
    now: datetime,
    signed_at: datetime,
    settings: OutboxSettings,
    post: Poster,
) -> str:
    endpoint, signing = run_in_transaction(
        session,
        lambda s: (
            s.get(WebhookEndpoint, message.merchant_id),
            active_secrets(s, message.merchant_id, now=now),
        ),
    )
    started = time.monotonic()
    status_code, error = None, None
    if endpoint is None or not endpoint.enabled:
        error = "the merchant has no enabled endpoint"
    elif not signing:
        error = "the merchant has no active signing secret"
    else:
        body = json.dumps(message.payload, separators=(",", ":")).encode()
        headers = signature_headers(
            signing, msg_id=message.message_id, timestamp=int(signed_at.timestamp()), body=body
        )
        headers |= {"content-type": "application/json", "user-agent": "loyalty-plugin"}
        try:
            status_code = post(endpoint.url, body, headers, settings.timeout_seconds)
        except OSError as failure:
            error = f"{type(failure).__name__}: {failure}"
        else:
            error = None if 200 <= status_code < 300 else f"HTTP {status_code}"
    elapsed = int((time.monotonic() - started) * 1000)
    url = endpoint.url if endpoint else ""
    return run_in_transaction(
        session,
        lambda s: _record(s, message.id, url, now, status_code, error, elapsed, settings),
    )


def _record(
    session: Session,
    message_id: int,
    url: str,
    now: datetime,
    status_code: int | None,
    error: str | None,
    elapsed_ms: int,
    settings: OutboxSettings,
) -> str:
    message = session.get(OutboxMessage, message_id, with_for_update=True, populate_existing=True)
    assert message is not None  # noqa: S101 - outbox rows are never deleted
    session.add(
        OutboxAttempt(
            message_id=message_id,
            url=url,
            attempted_at=now,
            status_code=status_code,
            error=error[:500] if error else None,
            duration_ms=elapsed_ms,
        )
    )
    message.attempts += 1
    if error is None:
        message.status = OutboxStatus.DELIVERED
        message.delivered_at = now
        message.next_attempt_at = None
        message.last_error = None
        return "delivered"
    message.last_error = error[:500]
    if message.attempts >= settings.max_attempts:
        message.status = OutboxStatus.DEAD
        message.next_attempt_at = None
        log.error(
            "outbox message %s is dead after %d attempts", message.message_id, message.attempts
        )
        return "dead"
    message.next_attempt_at = now + backoff(message.attempts, settings.retry_base)
    return "retry"
