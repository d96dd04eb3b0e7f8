"""The Outbox screen: the merchant's outgoing e-mails, one e-mail, retry a failed one, cancel
a queued one. Managers and owners only (bodies hold customers' portal links). Each action is
one call of ``services.messaging.email_outbox``, the same ``/api/v1/emails`` and
``loyalty emails`` make; retry and cancel are audited."""

from __future__ import annotations

from flask import Response, abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from loyalty_plugin.domain.errors import LoyaltyError, NotFound, ValidationError
from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import EmailStatus, StaffRole
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.messaging import email_outbox as service
from loyalty_plugin.services.transaction import run_in_transaction
from loyalty_plugin.web.admin import access
from loyalty_plugin.web.admin.forms import field_errors
from loyalty_plugin.web.admin.views.emails import EDITOR_CSP, PREVIEW_CSP

PAGE_SIZE = 50
#: How the page names each status.
STATUS_LABELS = {
    EmailStatus.QUEUED: "Queued",
    EmailStatus.SENT: "Sent",
    EmailStatus.FAILED: "Failed",
    EmailStatus.CANCELLED: "Cancelled",
}


def outbox(merchant_id: str) -> ResponseReturnValue:
    """The merchant's e-mails, newest first, filtered by ``status``."""
    status = request.args.get("status", "")
    errors: dict[str, str] = {}
    try:
        page = service.list_emails(
            get_session(),
            merchant_id=merchant_id,
            status=status or None,
            before_id=_before(),
            limit=PAGE_SIZE,
        )
    except LoyaltyError as error:
        page, errors = service.EmailPage([], None), field_errors(error)
    return render_template(
        "admin/operations/outbox.html",
        page_title="Outbox",
        Role=StaffRole,
        status=status,
        emails=page.emails,
        next_before=page.next_before,
        first_page=request.args.get("before") is None,
        labels=STATUS_LABELS,
        errors=errors,
    ), 422 if errors else 200


def outbox_email(merchant_id: str, email_id: int) -> ResponseReturnValue:
    """One e-mail: where it stands, its attempts, and its text (as sent, or a preview)."""
    try:
        detail = service.get_email(get_session(), merchant_id=merchant_id, email_id=email_id)
    except NotFound:
        abort(404)
    finally:
        get_session().rollback()
    response = Response(
        render_template(
            "admin/operations/outbox_email.html",
            page_title=f"E-mail {email_id}",
            Role=StaffRole,
            detail=detail,
            email=detail.email,
            labels=STATUS_LABELS,
        )
    )
    response.headers["Content-Security-Policy"] = EDITOR_CSP
    return response


def outbox_email_html(merchant_id: str, email_id: int) -> ResponseReturnValue:
    """The HTML part alone, for the page's sandboxed frame (no script, nothing from outside)."""
    try:
        detail = service.get_email(get_session(), merchant_id=merchant_id, email_id=email_id)
    except NotFound:
        abort(404)
    finally:
        get_session().rollback()
    html = detail.rendered.html if detail.rendered else ""
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = PREVIEW_CSP
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


def outbox_retry(merchant_id: str, email_id: int) -> ResponseReturnValue:
    """Queue a failed e-mail again (one ``retry_email``); the send job takes it next."""
    return _act(merchant_id, email_id, service.retry_email, "queued again: it goes out next")


def outbox_cancel(merchant_id: str, email_id: int) -> ResponseReturnValue:
    """Take a queued e-mail out of the queue (one ``cancel_email``); it is never sent."""
    return _act(merchant_id, email_id, service.cancel_email, "cancelled: it will not be sent")


def _act(merchant_id: str, email_id: int, action, done: str) -> ResponseReturnValue:
    actor = access.current().actor
    try:
        run_in_transaction(
            get_session(),
            lambda s: action(
                s, merchant_id=merchant_id, email_id=email_id, now=utcnow(), actor=actor
            ),
        )
    except NotFound:
        abort(404)
    except LoyaltyError as error:
        access.flash(f"Nothing changed: {error.message}.")
    else:
        access.flash(f"E-mail {email_id} {done}.")
    return redirect(url_for("admin.outbox_email", merchant_id=merchant_id, email_id=email_id), 303)


def _before() -> int | None:
    raw = request.args.get("before", "").strip()
    if not raw:
        return None
    if not raw.isdigit():
        raise ValidationError("must be a whole number", field="before")
    return int(raw)
