"""The merchant's outgoing e-mails, for staff: list, read one, retry a failed one, cancel one.

The ``send-emails`` job sends the outbox (:mod:`loyalty_plugin.jobs.emails`); this module is
what the admin's Outbox screen, ``/api/v1/emails`` and ``loyalty emails`` read and change.
Every query names the merchant, so another merchant's message is never found. Retry and
cancel lock the row and write an audit row in the caller's transaction; nothing commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.errors import InvalidOperation, NotFound, ValidationError
from loyalty_plugin.email.render import RenderedEmail
from loyalty_plugin.models import EmailAttempt, EmailMessage, EmailStatus
from loyalty_plugin.services.audit import Actor, record_change
from loyalty_plugin.services.messaging.email_templates import render_message

#: Most messages one page lists.
MAX_PAGE = 200
#: The ``links`` a preview shows: the real ones are made (fresh tokens) when it is sent.
PREVIEW_LINKS = {
    "portal": "https://portal.invalid/link-made-when-sent",
    "unsubscribe": "https://portal.invalid/unsubscribe-link-made-when-sent",
}


@dataclass(frozen=True, slots=True)
class EmailPage:
    """One page of the outbox, newest first; ``next_before`` continues it."""

    emails: list[EmailMessage]
    next_before: int | None


@dataclass(frozen=True, slots=True)
class EmailDetail:
    """One message, its attempts (oldest first), and its text: as sent, or as it would go."""

    email: EmailMessage
    attempts: list[EmailAttempt]
    rendered: RenderedEmail | None
    #: ``True`` when ``rendered`` is what was (or will be re-)sent, ``False`` for a preview.
    stored: bool
    render_error: str | None = None


def parse_status(value: str | None) -> EmailStatus | None:
    """``queued``, ``sent``, ``failed`` or ``cancelled`` (blank: all); 422 naming ``status``."""
    if not value:
        return None
    try:
        return EmailStatus(value)
    except ValueError:
        known = ", ".join(s.value for s in EmailStatus)
        raise ValidationError(f"must be one of {known}", field="status") from None


def list_emails(
    session: Session,
    *,
    merchant_id: str,
    status: str | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> EmailPage:
    """The merchant's e-mails newest first, of one ``status`` or all, before ``before_id``."""
    wanted = parse_status(status)
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationError(f"choose between 1 and {MAX_PAGE}", field="limit")
    query = select(EmailMessage).where(EmailMessage.merchant_id == merchant_id)
    if wanted is not None:
        query = query.where(EmailMessage.status == wanted)
    if before_id is not None:
        query = query.where(EmailMessage.id < before_id)
    rows = list(session.scalars(query.order_by(EmailMessage.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return EmailPage(rows, rows[-1].id if more and rows else None)


def get_email(session: Session, *, merchant_id: str, email_id: int) -> EmailDetail:
    """One message with its attempts and its text; a queued one is previewed (not stored)."""
    message = _find(session, merchant_id, email_id)
    attempts = list(
        session.scalars(
            select(EmailAttempt)
            .where(EmailAttempt.email_id == message.id)
            .order_by(EmailAttempt.attempted_at, EmailAttempt.id)
        )
    )
    if message.subject is not None:
        rendered = RenderedEmail(message.subject, message.body_text or "", message.body_html or "")
        return EmailDetail(message, attempts, rendered, stored=True)
    try:
        preview = render_message(session, message, extra={"links": dict(PREVIEW_LINKS)})
    except Exception as error:  # the send job records the same failure at its attempt
        return EmailDetail(message, attempts, None, stored=False, render_error=str(error))
    return EmailDetail(message, attempts, preview, stored=False)


def retry_email(
    session: Session, *, merchant_id: str, email_id: int, now: datetime, actor: Actor | str
) -> EmailMessage:
    """Queue a failed message again, due now, with fresh attempts; audited ``email.retried``.

    The stored text and ``Message-ID`` are kept, so the customer gets the same e-mail.
    """
    message = _find(session, merchant_id, email_id, lock=True)
    if message.status != EmailStatus.FAILED:
        raise InvalidOperation(
            f"e-mail {email_id} is {message.status.value}: only a failed one is retried",
            field="email_id",
        )
    before = _state(message)
    message.status = EmailStatus.QUEUED
    message.attempts = 0
    message.next_attempt_at = now
    message.claimed_until = None
    _audit(session, message, "email.retried", before, actor=actor, now=now)
    return message


def cancel_email(
    session: Session, *, merchant_id: str, email_id: int, now: datetime, actor: Actor | str
) -> EmailMessage:
    """Take a queued message out of the queue for good; audited ``email.cancelled``.

    Refused while the send job holds it (it may be on its way to the mail server).
    """
    message = _find(session, merchant_id, email_id, lock=True)
    if message.status != EmailStatus.QUEUED:
        raise InvalidOperation(
            f"e-mail {email_id} is {message.status.value}: only a queued one is cancelled",
            field="email_id",
        )
    if message.claimed_until is not None and message.claimed_until > now:
        raise InvalidOperation(
            f"e-mail {email_id} is being sent right now; look again in a minute",
            field="email_id",
        )
    before = _state(message)
    message.status = EmailStatus.CANCELLED
    _audit(session, message, "email.cancelled", before, actor=actor, now=now)
    return message


def _find(session: Session, merchant_id: str, email_id: int, *, lock: bool = False) -> EmailMessage:
    query = select(EmailMessage).where(
        EmailMessage.id == email_id, EmailMessage.merchant_id == merchant_id
    )
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    message = session.scalars(query).one_or_none()
    if message is None:
        raise NotFound(f"e-mail {email_id} does not exist", field="email_id")
    return message


def _state(message: EmailMessage) -> dict[str, Any]:
    return {
        "status": message.status.value,
        "attempts": message.attempts,
        "next_attempt_at": message.next_attempt_at,
    }


def _audit(
    session: Session,
    message: EmailMessage,
    action: str,
    before: dict[str, Any],
    *,
    actor: Actor | str,
    now: datetime,
) -> None:
    after = _state(message)
    record_change(
        session,
        merchant_id=message.merchant_id,
        actor=actor,
        action=action,
        target_type="email",
        target_id=message.id,
        before={"to": message.to_address, "template": message.template} | before,
        after=after,
        now=now,
    )
