"""The e-mail outbox: queue in the caller's transaction, claim for sending, record attempts.

Queueing is idempotent on ``(merchant, dedupe_key)``: the same receipt or reminder is
never queued twice, even by two workers (the unique key refuses the second; the unit of
work retries and then finds the first). Sending claims a few messages at a time
(``FOR UPDATE SKIP LOCKED`` where the database has it) and holds them for a while, so two
senders never send the same message; once a message is recorded as sent it is never sent
again. Nothing here commits.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, true, update
from sqlalchemy.orm import Session

from loyalty_plugin.models import EmailAttempt, EmailMessage, EmailStatus

#: The longest wait between two attempts.
MAX_BACKOFF = timedelta(hours=6)


def already_queued(session: Session, *, merchant_id: str, dedupe_key: str) -> bool:
    """Whether a message with this key was ever queued for the merchant."""
    dedupe_key = fit_key(dedupe_key)
    return (
        session.scalar(
            select(EmailMessage.id).where(
                EmailMessage.merchant_id == merchant_id, EmailMessage.dedupe_key == dedupe_key
            )
        )
        is not None
    )


def queue(
    session: Session,
    *,
    merchant_id: str,
    template: str,
    dedupe_key: str,
    customer_id: int | None,
    to_address: str | None,
    sms_to: str | None,
    context: dict[str, Any],
    now: datetime,
) -> EmailMessage | None:
    """Add a message to the outbox, unless one with ``dedupe_key`` exists (then ``None``)."""
    dedupe_key = fit_key(dedupe_key)
    if already_queued(session, merchant_id=merchant_id, dedupe_key=dedupe_key):
        return None
    message = EmailMessage(
        merchant_id=merchant_id,
        template=template,
        dedupe_key=dedupe_key,
        customer_id=customer_id,
        to_address=to_address,
        sms_to=sms_to,
        context=context,
        status=EmailStatus.QUEUED,
        attempts=0,
        next_attempt_at=now,
        sms_done=sms_to is None,
        created_at=now,
    )
    session.add(message)
    session.flush()
    return message


def fit_key(key: str, limit: int = 160) -> str:
    """``key``, or a shortened form of it with a digest when it is too long for the column."""
    if len(key) <= limit:
        return key
    return f"{key[: limit - 65]}:{hashlib.sha256(key.encode()).hexdigest()}"


def claim_due(
    session: Session,
    *,
    now: datetime,
    limit: int,
    hold: timedelta,
    merchant_id: str | None = None,
) -> list[int]:
    """Ids of up to ``limit`` due messages (of one merchant, or all), held for ``hold``."""
    mine = true() if merchant_id is None else EmailMessage.merchant_id == merchant_id
    ids = list(
        session.scalars(
            select(EmailMessage.id)
            .where(
                mine,
                EmailMessage.status == EmailStatus.QUEUED,
                EmailMessage.next_attempt_at <= now,
                or_(EmailMessage.claimed_until.is_(None), EmailMessage.claimed_until < now),
            )
            .order_by(EmailMessage.next_attempt_at, EmailMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if ids:
        session.execute(
            update(EmailMessage)
            .where(EmailMessage.id.in_(ids))
            .values(claimed_until=now + hold)
            .execution_options(synchronize_session=False)
        )
    return ids


def record_attempt(
    session: Session,
    message: EmailMessage,
    *,
    channel: str,
    now: datetime,
    error: str | None,
    duration_ms: int,
) -> None:
    """Keep one try for the admin pages."""
    session.add(
        EmailAttempt(
            merchant_id=message.merchant_id,
            email_id=message.id,
            attempted_at=now,
            channel=channel,
            succeeded=error is None,
            error=None if error is None else error[:500],
            duration_ms=duration_ms,
        )
    )


def settle(
    session: Session,
    message: EmailMessage,
    *,
    now: datetime,
    error: str | None,
    permanent: bool,
    max_attempts: int,
    retry_after: timedelta,
) -> str:
    """Move a message on after an attempt: ``sent``, ``retry`` or ``failed``."""
    message.attempts += 1
    message.claimed_until = None
    if error is None:
        message.status = EmailStatus.SENT
        message.sent_at = now
        message.last_error = None
        return "sent"
    message.last_error = error[:500]
    if permanent or message.attempts >= max_attempts:
        message.status = EmailStatus.FAILED
        return "failed"
    message.next_attempt_at = now + backoff(message.attempts, retry_after)
    return "retry"


def backoff(attempts: int, base: timedelta) -> timedelta:
    """Wait after ``attempts`` failures: base, 2x, 4x... at most six hours."""
    return min(MAX_BACKOFF, base * (2 ** max(0, attempts - 1)))


def retry_failed(session: Session, *, merchant_id: str, email_id: int, now: datetime) -> bool:
    """Queue a failed message again with fresh attempts (an operator's decision)."""
    return bool(
        session.execute(
            update(EmailMessage)
            .where(
                EmailMessage.id == email_id,
                EmailMessage.merchant_id == merchant_id,
                EmailMessage.status == EmailStatus.FAILED,
            )
            .values(status=EmailStatus.QUEUED, attempts=0, next_attempt_at=now)
        ).rowcount
    )
