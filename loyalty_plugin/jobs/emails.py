"""The ``send-emails`` job: send the outbox over SMTP (and the SMS hook), with retries.

For each claimed message: render it once (the merchant's template, the links, the
plugins' ``extra_email_context``) and keep the result, so a retry sends exactly the same
text under the same ``Message-ID``; send it with no database transaction open; record the
attempt; mark it sent, due again later (growing delay), or failed for good.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from loyalty_plugin.domain.notifications import CATEGORIES, Category, Message
from loyalty_plugin.email import outbox
from loyalty_plugin.email.links import links_for
from loyalty_plugin.email.render import RenderedEmail
from loyalty_plugin.email.send import (
    EmailSender,
    Envelope,
    PermanentFailure,
    SmtpSender,
    SmtpSettings,
    build_message,
    new_message_id,
)
from loyalty_plugin.jobs.job import JobContext
from loyalty_plugin.models import EmailMessage, EmailStatus, Merchant
from loyalty_plugin.services.messaging.email_templates import render_message
from loyalty_plugin.services.messaging.notifications import notification_prefs
from loyalty_plugin.services.transaction import run_in_transaction

log = logging.getLogger("loyalty_plugin.jobs")

#: Messages claimed at a time.
BATCH = 50
#: Whether this process already said that no sender is configured (once is enough).
_WARNED: list[bool] = []


@dataclass(frozen=True, slots=True)
class SmsMessage:
    """What the ``send_sms`` hook receives: the same rendered text as the e-mail."""

    merchant_id: str
    to: str
    text: str
    subject: str
    template: str
    #: The outbox message's id, the same on every retry (an idempotency key for providers).
    message_id: int


@dataclass(frozen=True, slots=True)
class _Ready:
    """A rendered message, read out of its transaction, ready to send."""

    id: int
    merchant_id: str
    template: str
    customer_id: int | None
    to_address: str | None
    sms_to: str | None
    sms_done: bool
    rendered: RenderedEmail
    message_id: str
    sender_name: str
    reply_to: str | None


@dataclass(frozen=True, slots=True)
class _Attempt:
    channel: str
    error: str | None = None
    permanent: bool = False
    ms: int = 0


def send_emails(ctx: JobContext) -> dict[str, int]:
    """Send every due message; counts of sent, retried and failed."""
    settings = SmtpSettings.from_config(ctx.config)
    sender = _sender(ctx, settings)
    counts = {"sent": 0, "retry": 0, "failed": 0}
    if sender is None:
        if not _WARNED:
            log.warning("LOYALTY_SMTP_HOST is not set: e-mails stay queued until it is")
            _WARNED.append(True)
        return counts
    hold = timedelta(seconds=int(ctx.config["LOYALTY_JOB_LEASE_SECONDS"]))
    try:
        while ids := run_in_transaction(
            ctx.session,
            lambda s: outbox.claim_due(
                s, now=ctx.now, limit=BATCH, hold=hold, merchant_id=ctx.merchant_id
            ),
        ):
            claimed = time.monotonic()
            for email_id in ids:
                if time.monotonic() - claimed > hold.total_seconds() / 2:
                    # A slow server: stop well inside the claim, so no other worker can take
                    # (and send again) a message this run is still sending. The rest of the
                    # batch stays claimed and goes out after the claim runs out.
                    return counts
                counts[_deliver(ctx, email_id, sender, settings)] += 1
            ctx.progress(sum(counts.values()))
    finally:
        sender.close()
    return counts


def _sender(ctx: JobContext, settings: SmtpSettings) -> EmailSender | None:
    """A plugin's sender (``email_sender`` hook), else SMTP, else none (not configured)."""
    hook = _hook(ctx, "email_sender")
    provided = hook(config=ctx.config) if hook is not None else None
    if provided is not None:
        return provided
    return SmtpSender(settings) if settings.host else None


def _deliver(ctx: JobContext, email_id: int, sender: EmailSender, settings: SmtpSettings) -> str:
    """One message: render if needed, send on each channel still owed, settle."""
    ready = run_in_transaction(ctx.session, lambda s: _prepare(ctx, s, email_id, settings))
    if isinstance(ready, str):
        return ready
    attempts = []
    if ready.to_address:
        attempts.append(_send_email(ctx, sender, ready))
    if ready.sms_to and not ready.sms_done and (sms := _send_sms(ctx, ready)) is not None:
        attempts.append(sms)

    def settle(session: Session) -> str:
        row = session.get(EmailMessage, email_id, with_for_update=True)
        if row is None:
            return "failed"
        for attempt in attempts:
            outbox.record_attempt(
                session,
                row,
                channel=attempt.channel,
                now=ctx.now,
                error=attempt.error,
                duration_ms=attempt.ms,
            )
        # The SMS hook is called once, like a notification hook: its failure is logged.
        row.sms_done = True
        email = next((a for a in attempts if a.channel == "smtp"), _Attempt("smtp"))
        return _settle(ctx, session, row, email.error, permanent=email.permanent)

    return run_in_transaction(ctx.session, settle)


def _prepare(
    ctx: JobContext, session: Session, email_id: int, settings: SmtpSettings
) -> _Ready | str:
    """The message, rendered (and stored) on its first attempt; or the outcome if not due."""
    message = session.get(EmailMessage, email_id, with_for_update=True)
    if message is None or message.status != EmailStatus.QUEUED:
        return "sent" if message is not None and message.status == EmailStatus.SENT else "failed"
    if message.subject is None:
        try:
            rendered = render_message(session, message, extra=_extra_context(ctx, message))
        except Exception as error:
            log.exception("e-mail %d could not be rendered", message.id)
            text = f"rendering failed: {type(error).__name__}: {error}"
            outbox.record_attempt(
                session, message, channel="render", now=ctx.now, error=text, duration_ms=0
            )
            return _settle(ctx, session, message, text, permanent=False)
        message.subject = rendered.subject
        message.body_text, message.body_html = rendered.text, rendered.html
        message.message_id = new_message_id(settings.mail_from)
    merchant = session.get(Merchant, message.merchant_id)
    return _Ready(
        id=message.id,
        merchant_id=message.merchant_id,
        template=message.template,
        customer_id=message.customer_id,
        to_address=message.to_address,
        sms_to=message.sms_to,
        sms_done=message.sms_done,
        rendered=RenderedEmail(
            message.subject or "", message.body_text or "", message.body_html or ""
        ),
        message_id=message.message_id or new_message_id(settings.mail_from),
        sender_name=merchant.name if merchant else "Loyalty",
        reply_to=notification_prefs(session, message.merchant_id).reply_to,
    )


def _settle(
    ctx: JobContext, session: Session, row: EmailMessage, error: str | None, *, permanent: bool
) -> str:
    return outbox.settle(
        session,
        row,
        now=ctx.now,
        error=error,
        permanent=permanent,
        max_attempts=int(ctx.config["LOYALTY_EMAIL_MAX_ATTEMPTS"]),
        retry_after=timedelta(seconds=int(ctx.config["LOYALTY_EMAIL_RETRY_SECONDS"])),
    )


def _extra_context(ctx: JobContext, message: EmailMessage) -> dict[str, Any]:
    """``links`` for the customer, then what plugins add (``extra_email_context``)."""
    extra: dict[str, Any] = {}
    if message.customer_id is not None:
        extra["links"] = links_for(
            ctx.config, merchant_id=message.merchant_id, customer_id=message.customer_id
        )
    hook = _hook(ctx, "extra_email_context")
    if hook is not None:
        for added in hook(
            template=message.template, merchant_id=message.merchant_id, context=dict(extra)
        ):
            extra.update(added or {})
    return extra


def _send_email(ctx: JobContext, sender: EmailSender, ready: _Ready) -> _Attempt:
    """Hand the stored rendering to the sender."""
    unsubscribe = None
    if CATEGORIES[Message(ready.template)] == Category.MARKETING and ready.customer_id:
        links = links_for(ctx.config, merchant_id=ready.merchant_id, customer_id=ready.customer_id)
        unsubscribe = links["unsubscribe"]
    envelope = Envelope(
        sender_name=ready.sender_name,
        mail_from=str(ctx.config.get("LOYALTY_MAIL_FROM") or "loyalty@localhost"),
        to=ready.to_address or "",
        message_id=ready.message_id,
        reply_to=ready.reply_to,
        unsubscribe_url=unsubscribe,
    )
    started = time.monotonic()
    try:
        sender.send(build_message(ready.rendered, envelope, sent_at=ctx.now))
    except PermanentFailure as error:
        return _Attempt("smtp", str(error), True, _ms(started))
    except Exception as error:
        return _Attempt("smtp", f"{type(error).__name__}: {error}", False, _ms(started))
    return _Attempt("smtp", ms=_ms(started))


def _send_sms(ctx: JobContext, ready: _Ready) -> _Attempt | None:
    """Call the ``send_sms`` hook with the rendered text (once); ``None`` if no plugin has it."""
    hook = _hook(ctx, "send_sms")
    if hook is None or not hook.get_hookimpls() or not ready.sms_to:
        return None
    started = time.monotonic()
    sms = SmsMessage(
        merchant_id=ready.merchant_id,
        to=ready.sms_to,
        text=ready.rendered.text,
        subject=ready.rendered.subject,
        template=ready.template,
        message_id=ready.id,
    )
    try:
        hook(message=sms)
    except Exception as error:
        log.exception("send_sms failed for message %d", ready.id)
        return _Attempt("sms", f"{type(error).__name__}: {error}", ms=_ms(started))
    return _Attempt("sms", ms=_ms(started))


def _hook(ctx: JobContext, name: str) -> Any:
    pm = ctx.app.extensions["loyalty"].plugin_manager
    return getattr(pm.hook, name, None) if pm is not None else None


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
