"""The E-mail templates screen: the list, an editor per template, preview, reset, test send.

Everyone signed in may read; managers and owners save, reset and send tests. Each action is
one call of ``services.messaging.email_templates`` (the ``loyalty emails`` command uses the
same). A refused edit re-renders with status 422, the typed text, and each problem (part,
line, reason) at its field. The HTML part is previewed in a sandboxed frame served from our
own origin with its own strict policy (no script, nothing from elsewhere).
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

from flask import Response, current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import NotFound as HttpNotFound

from loyalty_plugin.domain.errors import LoyaltyError, ValidationError
from loyalty_plugin.email.render import RenderedEmail, TemplateRejected
from loyalty_plugin.email.send import SmtpSender, SmtpSettings
from loyalty_plugin.email.templates import PARTS, TEMPLATES, TemplateSpec
from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import StaffRole
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.messaging import email_templates as service
from loyalty_plugin.services.transaction import run_in_transaction
from loyalty_plugin.web.admin import access
from loyalty_plugin.web.admin.forms import field_errors

#: The editor page may frame our own preview; nothing else changes from the admin policy.
EDITOR_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)
#: The framed HTML part: inline styles only, no script, no requests, a unique origin.
PREVIEW_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; "
    "frame-ancestors 'self'; base-uri 'none'; sandbox"
)


def emails(merchant_id: str) -> ResponseReturnValue:
    """Every template: subject, edited or default, on or off."""
    rows = service.list_templates(get_session(), merchant_id=merchant_id)
    return render_template("admin/emails/list.html", page_title="E-mail templates", rows=rows)


def emails_edit(merchant_id: str, name: str) -> ResponseReturnValue:
    """The editor of one template, with the saved version previewed (``?customer_id=``)."""
    spec = _spec(name)
    sources, _ = service.template_sources(get_session(), merchant_id=merchant_id, name=name)
    form = {"subject": sources.subject.strip(), "body_text": sources.body_text}
    form |= {"body_html": sources.body_html, "customer_id": request.args.get("customer_id", "")}
    return _editor(merchant_id, spec, form)


def emails_save(merchant_id: str, name: str) -> ResponseReturnValue:
    """Check and store the edit (one ``save_template``); refused: 422 with line and reason."""
    spec = _spec(name)
    form = request.form
    actor = access.current().actor
    try:
        run_in_transaction(
            get_session(),
            lambda s: service.save_template(
                s,
                merchant_id=merchant_id,
                name=name,
                subject=form.get("subject", ""),
                body_text=form.get("body_text", ""),
                body_html=form.get("body_html", ""),
                now=utcnow(),
                actor=actor,
            ),
        )
    except LoyaltyError as error:
        return _editor(merchant_id, spec, form, errors=_errors(error), status=422)
    access.flash("Template saved; it is used from the next e-mail on.")
    return redirect(url_for("admin.emails_edit", merchant_id=merchant_id, name=name), 303)


def emails_preview(merchant_id: str, name: str) -> ResponseReturnValue:
    """Preview the typed draft (one ``preview_template``) without saving it."""
    spec = _spec(name)
    form = request.form
    try:
        rendered = service.preview_template(
            get_session(),
            merchant_id=merchant_id,
            name=name,
            subject=form.get("subject", ""),
            body_text=form.get("body_text", ""),
            body_html=form.get("body_html", ""),
            customer_id=_customer_id(form),
        )
    except LoyaltyError as error:
        return _editor(merchant_id, spec, form, errors=_errors(error), status=422)
    finally:
        get_session().rollback()
    return _editor(merchant_id, spec, form, preview=rendered)


def emails_preview_html(merchant_id: str, name: str) -> ResponseReturnValue:
    """The HTML part alone, for the editor's sandboxed frame (``?body_html=`` a draft)."""
    _spec(name)
    try:
        rendered = service.preview_template(
            get_session(),
            merchant_id=merchant_id,
            name=name,
            body_html=request.args.get("body_html"),
            customer_id=_customer_id(request.args),
        )
    except LoyaltyError as error:
        return Response(f"Cannot preview: {error.message}", 422, mimetype="text/plain")
    finally:
        get_session().rollback()
    response = Response(rendered.html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = PREVIEW_CSP
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


def emails_reset(merchant_id: str, name: str) -> ResponseReturnValue:
    """Drop the merchant's edit (one ``reset_template``)."""
    _spec(name)
    actor = access.current().actor
    dropped = run_in_transaction(
        get_session(),
        lambda s: service.reset_template(
            s, merchant_id=merchant_id, name=name, now=utcnow(), actor=actor
        ),
    )
    access.flash("Back to the default template." if dropped else "It was already the default.")
    return redirect(url_for("admin.emails_edit", merchant_id=merchant_id, name=name), 303)


def emails_test(merchant_id: str, name: str) -> ResponseReturnValue:
    """Send the saved template to the typed address (one ``send_test_email``) over SMTP."""
    spec = _spec(name)
    form = request.form
    actor = access.current().actor
    settings = SmtpSettings.from_config(current_app.config)
    session = get_session()
    sources, _ = service.template_sources(session, merchant_id=merchant_id, name=name)
    shown = {"subject": sources.subject.strip(), "body_text": sources.body_text}
    shown |= {"body_html": sources.body_html, "customer_id": form.get("customer_id", "")}
    shown |= {"to": form.get("to", "")}
    try:
        if not settings.host:
            raise ValidationError("no SMTP server is configured (LOYALTY_SMTP_HOST)", field="to")
        with SmtpSender(settings) as sender:
            message_id = run_in_transaction(
                session,
                lambda s: service.send_test_email(
                    s,
                    merchant_id=merchant_id,
                    name=name,
                    to=form.get("to", ""),
                    sender=sender,
                    mail_from=settings.mail_from,
                    customer_id=_customer_id(form),
                    now=utcnow(),
                    actor=actor,
                ),
            )
    except LoyaltyError as error:
        return _editor(merchant_id, spec, shown, errors=_errors(error), status=422)
    except OSError as error:  # smtplib's errors are OSErrors: the server said no or is away
        errors = {"to": f"The mail server did not take it: {error}."}
        return _editor(merchant_id, spec, shown, errors=errors, status=422)
    access.flash(f"Test e-mail sent to {form.get('to', '').strip()} ({message_id}).")
    return redirect(url_for("admin.emails_edit", merchant_id=merchant_id, name=name), 303)


# -- helpers ---------------------------------------------------------------------------------


def _spec(name: str) -> TemplateSpec:
    if name not in TEMPLATES:
        raise HttpNotFound()
    return TEMPLATES[name]


def _customer_id(form: Mapping[str, str]) -> int | None:
    text = (form.get("customer_id") or "").strip()
    if not text:
        return None
    if not text.isdigit():
        raise ValidationError("must be a customer number", field="customer_id")
    return int(text)


def _errors(error: LoyaltyError) -> dict[str, str]:
    """Every problem of a refused edit at its part ("line 3: unexpected '}'")."""
    if not isinstance(error, TemplateRejected):
        return field_errors(error)
    errors: dict[str, list[str]] = {}
    for problem in error.problems:
        where = f"Line {problem.line}: " if problem.line else ""
        errors.setdefault(problem.part, []).append(where + problem.reason)
    return {part: "; ".join(texts) + "." for part, texts in errors.items()}


def _editor(
    merchant_id: str,
    spec: TemplateSpec,
    form: Mapping[str, str],
    *,
    errors: dict[str, str] | None = None,
    preview: RenderedEmail | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    session = get_session()
    _, edited = service.template_sources(session, merchant_id=merchant_id, name=spec.name)
    if preview is None and not errors:
        try:
            preview = service.preview_template(
                session, merchant_id=merchant_id, name=spec.name, customer_id=_customer_id(form)
            )
        except LoyaltyError as error:
            errors = field_errors(error)
        finally:
            session.rollback()
    query = {"customer_id": form.get("customer_id") or ""}
    if request.method == "POST" and preview is not None:
        query["body_html"] = form.get("body_html", "")
    frame = url_for("admin.emails_preview_html", merchant_id=merchant_id, name=spec.name)
    body = render_template(
        "admin/emails/edit.html",
        page_title=f"E-mail: {spec.name}",
        spec=spec,
        form=form,
        parts=PARTS,
        edited=edited,
        errors=errors or {},
        preview=preview,
        frame_url=frame + "?" + urlencode({k: v for k, v in query.items() if v}),
        may_edit=access.current().may(StaffRole.MANAGER),
    )
    response = Response(body, status)
    response.headers["Content-Security-Policy"] = EDITOR_CSP
    return response
