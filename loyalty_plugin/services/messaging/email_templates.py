"""Merchants' e-mail templates: read, preview, save (checked), reset; render a queued message.

Each function is one call for the admin pages. Saving checks the edit in Jinja's sandbox
and refuses it with :class:`~loyalty_plugin.email.render.TemplateRejected` (the part, the
line and the reason of every problem). A merchant without an edit uses the default.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.errors import NotFound, ValidationError
from loyalty_plugin.domain.notifications import Message
from loyalty_plugin.email import context as stored
from loyalty_plugin.email.render import (
    Formatting,
    RenderedEmail,
    TemplateRejected,
    check_template,
    render,
)
from loyalty_plugin.email.send import EmailSender, Envelope, build_message, new_message_id
from loyalty_plugin.email.templates import (
    TEMPLATES,
    Sources,
    TemplateSpec,
    default_sources,
    get_spec,
)
from loyalty_plugin.i18n import language_for, language_of
from loyalty_plugin.models import Customer, EmailMessage, EmailTemplate
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.audit import SYSTEM, Actor, as_actor, record_change
from loyalty_plugin.services.ledger.accounts import get_merchant
from loyalty_plugin.services.messaging.notifications import common_context, notification_prefs

log = logging.getLogger(__name__)


def formatting(session: Session, merchant_id: str, *, locale: str | None = None) -> Formatting:
    """The merchant's locale (or ``locale``, a customer's), currency and time zone, and the
    language of the text: the customer's when we ship it, else the merchant's, else English.
    """
    merchant = get_merchant(session, merchant_id)
    prefs = notification_prefs(session, merchant_id)
    shown = locale if language_of(locale) else prefs.locale
    return Formatting(
        locale=shown,
        currency=merchant.currency,
        tz=ZoneInfo(merchant.timezone),
        language=language_for(locale, prefs.locale),
    )


def template_sources(session: Session, *, merchant_id: str, name: str) -> tuple[Sources, bool]:
    """The template the merchant uses, and whether it is their own edit."""
    get_spec(name)
    row = _edit(session, merchant_id, name)
    if row is None:
        return default_sources(name), False
    return Sources(subject=row.subject, body_text=row.body_text, body_html=row.body_html), True


@dataclass(frozen=True, slots=True)
class TemplateSummary:
    """One line of the templates list: what it is, its subject, edited or not, on or off."""

    name: str
    description: str
    category: str
    subject: str
    edited: bool
    enabled: bool
    updated_at: datetime | None
    updated_by: str | None


def list_templates(session: Session, *, merchant_id: str) -> list[TemplateSummary]:
    """Every template as the merchant has it (default or edit) and whether it is sent."""
    get_merchant(session, merchant_id)
    prefs = notification_prefs(session, merchant_id)
    edits = {
        row.name: row
        for row in session.scalars(
            select(EmailTemplate).where(EmailTemplate.merchant_id == merchant_id)
        )
    }
    summaries = []
    fmt = formatting(session, merchant_id)
    for name, spec in TEMPLATES.items():
        row = edits.get(name)
        summaries.append(
            TemplateSummary(
                name=name,
                description=spec.description,
                category=spec.category.value,
                subject=row.subject if row else _default_subject(spec, fmt),
                edited=row is not None,
                enabled=prefs.enabled(Message(name)),
                updated_at=row.updated_at if row else None,
                updated_by=row.updated_by if row else None,
            )
        )
    return summaries


def _default_subject(spec: TemplateSpec, fmt: Formatting) -> str:
    """A default's subject as a customer reads it (made-up data, the merchant's language):
    its source is a call of the translation layer."""
    try:
        return render(spec, default_sources(spec.name), spec.sample_context(), fmt).subject
    except Exception:  # a list line is never worth an error page
        log.warning("template %s: subject not rendered", spec.name, exc_info=True)
        return default_sources(spec.name).subject.strip()


def preview_template(
    session: Session,
    *,
    merchant_id: str,
    name: str,
    subject: str | None = None,
    body_text: str | None = None,
    body_html: str | None = None,
    customer_id: int | None = None,
) -> RenderedEmail:
    """Render a template (the merchant's, or the given draft parts) with sample data.

    With ``customer_id`` the common variables (name, e-mail, balance) are that customer's
    of this merchant; the template's own (points, dates) stay made-up.
    """
    spec = get_spec(name)
    current, _ = template_sources(session, merchant_id=merchant_id, name=name)
    draft = Sources(
        subject=current.subject if subject is None else subject,
        body_text=current.body_text if body_text is None else body_text,
        body_html=current.body_html if body_html is None else body_html,
    )
    fmt = formatting(session, merchant_id)
    problems = check_template(spec, draft, fmt)
    if problems:
        raise TemplateRejected(problems)
    merchant = get_merchant(session, merchant_id)
    sample = spec.sample_context() | {"merchant": {"name": merchant.name}}
    if customer_id is not None:
        sample |= _customer_context(session, merchant_id, customer_id)
    return render(spec, draft, sample, fmt)


def _customer_context(session: Session, merchant_id: str, customer_id: int) -> dict[str, Any]:
    customer = session.get(Customer, customer_id)
    if customer is None or customer.merchant_id != merchant_id:
        raise NotFound(f"no customer {customer_id}", field="customer_id")
    shown = common_context(session, customer, now=utcnow())
    if shown["level"] is None:  # a merchant without levels: keep the sample's
        shown.pop("level")
    return shown


def send_test_email(
    session: Session,
    *,
    merchant_id: str,
    name: str,
    to: str,
    sender: EmailSender,
    mail_from: str,
    customer_id: int | None = None,
    now: datetime,
    actor: Actor | str,
) -> str:
    """Send the merchant's template, rendered as in the preview, to ``to``; its Message-ID.

    The subject starts with ``[Test]``. Audited as ``email_template.test_sent``.
    """
    address = to.strip()
    local, _, domain = address.rpartition("@")
    if not local or "." not in domain or any(c.isspace() or c in "<>,;" for c in address):
        raise ValidationError("is not an e-mail address", field="to")
    rendered = preview_template(
        session, merchant_id=merchant_id, name=name, customer_id=customer_id
    )
    rendered = RenderedEmail(
        subject=f"[Test] {rendered.subject}", text=rendered.text, html=rendered.html
    )
    merchant = get_merchant(session, merchant_id)
    message_id = new_message_id(mail_from)
    envelope = Envelope(
        sender_name=merchant.name, mail_from=mail_from, to=address, message_id=message_id
    )
    sender.send(build_message(rendered, envelope, sent_at=now))
    _record(
        session,
        merchant_id,
        name,
        actor,
        "email_template.test_sent",
        None,
        {"to": address, "customer_id": customer_id, "message_id": message_id},
        now,
    )
    return message_id


def save_template(
    session: Session,
    *,
    merchant_id: str,
    name: str,
    subject: str,
    body_text: str,
    body_html: str,
    now: datetime,
    actor: Actor | str,
) -> EmailTemplate:
    """Store the merchant's edit after checking it; refuses it with every problem found.

    Audited as ``email_template.saved``, with the edit it replaced (``None``: the default).
    """
    actor = as_actor(actor)
    spec = get_spec(name)
    sources = Sources(subject=subject.strip(), body_text=body_text, body_html=body_html)
    problems = check_template(spec, sources, formatting(session, merchant_id))
    if problems:
        raise TemplateRejected(problems)
    row = _edit(session, merchant_id, name)
    before = None if row is None else _sources(row)
    row = row or EmailTemplate(merchant_id=merchant_id, name=name)
    row.subject, row.body_text, row.body_html = sources.subject, body_text, body_html
    row.updated_at = now
    row.updated_by = actor.label
    session.add(row)
    session.flush()
    if before != _sources(row):
        _record(
            session, merchant_id, name, actor, "email_template.saved", before, _sources(row), now
        )
    return row


def reset_template(
    session: Session,
    *,
    merchant_id: str,
    name: str,
    now: datetime | None = None,
    actor: Actor | str = SYSTEM,
) -> bool:
    """Go back to the default template; whether there was an edit to drop.

    Dropping an edit is audited as ``email_template.reset``, with the edit dropped.
    """
    get_spec(name)
    get_merchant(session, merchant_id)
    row = _edit(session, merchant_id, name)
    if row is None:
        return False
    before = _sources(row)
    session.execute(
        delete(EmailTemplate).where(
            EmailTemplate.merchant_id == merchant_id, EmailTemplate.name == name
        )
    )
    session.expunge(row)
    _record(
        session, merchant_id, name, actor, "email_template.reset", before, None, now or utcnow()
    )
    return True


def _sources(row: EmailTemplate) -> dict[str, str]:
    return {"subject": row.subject, "body_text": row.body_text, "body_html": row.body_html}


def _record(
    session: Session,
    merchant_id: str,
    name: str,
    actor: Actor | str,
    action: str,
    before: dict[str, str] | None,
    after: dict[str, str] | None,
    now: datetime,
) -> None:
    record_change(
        session,
        merchant_id=merchant_id,
        actor=actor,
        action=action,
        target_type="email_template",
        target_id=name,
        before=before,
        after=after,
        now=now,
    )


def render_message(
    session: Session, message: EmailMessage, *, extra: dict[str, Any]
) -> RenderedEmail:
    """Render a queued message with the merchant's template, or the default if that fails.

    ``extra`` adds variables known only when sending (``links``, plugins' context).
    """
    spec = get_spec(message.template)
    context = stored.load(message.context) | extra
    customer = session.get(Customer, message.customer_id) if message.customer_id else None
    fmt = formatting(session, message.merchant_id, locale=customer.locale if customer else None)
    sources, edited = template_sources(session, merchant_id=message.merchant_id, name=spec.name)
    if edited:
        try:
            return render(spec, sources, context, fmt)
        except Exception:
            # A saved edit passed its checks; if real data still trips it, send the default
            # rather than nothing, and tell the operator.
            log.exception(
                "merchant %s template %s failed; using the default", message.merchant_id, spec.name
            )
    return render(spec, default_sources(spec.name), context, fmt)


def _edit(session: Session, merchant_id: str, name: str) -> EmailTemplate | None:
    return session.scalars(
        select(EmailTemplate).where(
            EmailTemplate.merchant_id == merchant_id, EmailTemplate.name == name
        )
    ).one_or_none()
