"""Integration screens: the host events inbox (managers read, owners retry), webhook
secrets, API keys and outgoing webhooks (owners). Each action is one service call, the
same the CLI makes."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from flask import abort, current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from loyalty_plugin.domain.errors import LoyaltyError, ValidationError
from loyalty_plugin.extensions import get_session, loyalty_state
from loyalty_plugin.models import ApiScope, InboxStatus, StaffRole, WebhookEndpoint
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.intake import webhooks as intake
from loyalty_plugin.services.merchants import api_keys, secrets
from loyalty_plugin.services.messaging import outbox
from loyalty_plugin.services.transaction import run_in_transaction
from loyalty_plugin.web.admin import access
from loyalty_plugin.web.admin.forms import field_errors, sentence

PAGE_SIZE = 50
#: The statuses an operator filters on, and how the page names them.
STATUS_LABELS = {
    InboxStatus.PROCESSED: "Processed",
    InboxStatus.WAITING: "Waiting",
    InboxStatus.PENDING: "Failed, will retry",
    InboxStatus.DEAD: "Dead",
    InboxStatus.REJECTED: "Rejected",
    InboxStatus.QUEUED: "Queued",
}


def _render(template: str, **context: Any) -> str:
    """A page of these screens; ``Role`` lets the template ask ``ctx.may(Role.OWNER)``."""
    return render_template(template, Role=StaffRole, **context)


# -- host events inbox -----------------------------------------------------------------------


def integration(merchant_id: str) -> ResponseReturnValue:
    """The merchant's host events, newest first, filtered by ``status`` and ``type``."""
    values = {"status": request.args.get("status", ""), "type": request.args.get("type", "")}
    try:
        page = intake.list_events(
            get_session(),
            merchant_id=merchant_id,
            status=values["status"] or None,
            event_type=values["type"] or None,
            before_id=_int_arg("before"),
            limit=PAGE_SIZE,
        )
    except LoyaltyError as error:
        return _inbox(values, None, errors=field_errors(error), status=422)
    return _inbox(values, page)


def integration_event(merchant_id: str, event_id: int) -> ResponseReturnValue:
    """One host event: its outcome, headers and the raw body as received."""
    try:
        row = intake.get_event(get_session(), merchant_id=merchant_id, event_id=event_id)
    except LoyaltyError:
        abort(404)
    return _render(
        "admin/integration/event.html",
        page_title=f"Event {row.id}",
        event=row,
        labels=STATUS_LABELS,
        retryable=row.status in (*intake.FAILED, InboxStatus.WAITING),
    )


def integration_event_retry(merchant_id: str, event_id: int) -> ResponseReturnValue:
    """Process one dead, failed or waiting event again now (``loyalty events retry``)."""
    status = intake.retry_event(
        get_session(),
        event_id,
        hooks=loyalty_state().plugin_manager.hook,
        settings=intake.IntakeSettings.from_config(current_app.config),
        now=utcnow(),
        force=True,
        merchant_id=merchant_id,
        actor=access.current().actor,
    )
    if status is None:
        access.flash(f"Event {event_id} is not dead, failed or waiting: nothing was retried.")
    else:
        access.flash(f"Event {event_id} was retried: it is now {status}.")
    return redirect(url_for("admin.integration_event", merchant_id=merchant_id,
                            event_id=event_id), 303)  # fmt: skip


def integration_retry_failed(merchant_id: str) -> ResponseReturnValue:
    """Retry every dead and failed event of the merchant now (``loyalty events replay``)."""
    counts = intake.retry_failed(
        get_session(),
        merchant_id=merchant_id,
        hooks=loyalty_state().plugin_manager.hook,
        settings=intake.IntakeSettings.from_config(current_app.config),
        now=utcnow(),
        actor=access.current().actor,
    )
    total = sum(counts.values())
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    access.flash(f"{total} event(s) retried: {summary}." if total else "No failed events.")
    return redirect(url_for("admin.integration", merchant_id=merchant_id), 303)


def _inbox(
    values: dict[str, str],
    page: intake.InboxPage | None,
    *,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    filters = {k: v for k, v in values.items() if v}
    return _render(
        "admin/integration/inbox.html",
        page_title="Host events",
        values=values,
        filters=filters,
        events=page.events if page else [],
        next_before=page.next_before if page else None,
        first_page=request.args.get("before") is None,
        labels=STATUS_LABELS,
        errors=errors or {},
    ), status


def _int_arg(name: str) -> int | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    if not raw.isdigit():
        raise ValidationError("must be a whole number", field=name)
    return int(raw)


# -- webhook secrets ----------------------------------------------------------------------


def integration_secrets(merchant_id: str) -> ResponseReturnValue:
    """The merchant's signing secrets (shortened) and the forms to add or rotate one."""
    return _secrets_page(merchant_id)


def integration_secret_create(merchant_id: str) -> ResponseReturnValue:
    """Add a secret beside the active ones; it is shown in full on this answer only."""
    form = request.form
    try:
        row = run_in_transaction(
            get_session(),
            lambda s: secrets.create_secret(
                s,
                merchant_id=merchant_id,
                label=form.get("label", "").strip() or None,
                now=utcnow(),
                actor=access.current().actor,
                request_key=form.get("form_key") or None,
            ),
        )
    except LoyaltyError as error:
        return _secrets_page(merchant_id, values=form, errors=field_errors(error), status=422)
    return _secrets_page(merchant_id, shown=row.secret, note="New secret")


def integration_secret_rotate(merchant_id: str) -> ResponseReturnValue:
    """A new secret; the old ones keep working until the end of the overlap (a day)."""
    form = request.form
    try:
        until = _overlap_end(form.get("overlap_until", ""))
        row = run_in_transaction(
            get_session(),
            lambda s: secrets.rotate_secret(
                s,
                merchant_id=merchant_id,
                overlap_until=until,
                label=form.get("label", "").strip() or None,
                now=utcnow(),
                actor=access.current().actor,
                request_key=form.get("form_key") or None,
            ),
        )
    except LoyaltyError as error:
        return _secrets_page(merchant_id, values=form, errors=field_errors(error), status=422)
    return _secrets_page(merchant_id, shown=row.secret, note="Rotated", until=until)


def integration_secret_revoke(merchant_id: str, secret_id: int) -> ResponseReturnValue:
    """Stop a secret now (also one still in its overlap)."""
    try:
        run_in_transaction(
            get_session(),
            lambda s: secrets.revoke_secret(
                s,
                secret_id=secret_id,
                merchant_id=merchant_id,
                now=utcnow(),
                actor=access.current().actor,
            ),
        )
    except LoyaltyError as error:
        return _secrets_page(merchant_id, errors=field_errors(error), status=422)
    access.flash(f"Secret {secret_id} is revoked: events signed with it are refused.")
    return redirect(url_for("admin.integration_secrets", merchant_id=merchant_id), 303)


def _overlap_end(text: str) -> datetime:
    """The end of the overlap: the last second of the day typed (UTC); else an error."""
    try:
        day = datetime.strptime(text.strip(), "%Y-%m-%d").date()
    except ValueError:
        raise ValidationError("a date such as 2026-12-31", field="overlap_until") from None
    return datetime.combine(day, time(23, 59, 59), UTC)


def _secrets_page(
    merchant_id: str,
    *,
    values: Any = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
    shown: str | None = None,
    note: str | None = None,
    until: datetime | None = None,
) -> ResponseReturnValue:
    errors = errors or {}
    now = utcnow()
    default_until = (now + timedelta(days=7)).date().isoformat()
    return _render(
        "admin/integration/secrets.html",
        page_title="Webhook secrets",
        secrets=secrets.list_secrets(get_session(), merchant_id),
        now=now,
        values=values or {"overlap_until": default_until},
        errors=errors,
        form_error=sentence(errors["form"]) if "form" in errors else None,
        shown=shown,
        note=note,
        until=until,
    ), status


# -- API keys ------------------------------------------------------------------------------


def integration_api_keys(merchant_id: str) -> ResponseReturnValue:
    """The merchant's API keys with their last use, and the form to make one."""
    return _keys_page(merchant_id)


def integration_api_key_create(merchant_id: str) -> ResponseReturnValue:
    """Make a key with a scope; the key is shown in full on this answer only."""
    form = request.form
    try:
        key, token = run_in_transaction(
            get_session(),
            lambda s: api_keys.create_api_key(
                s,
                merchant_id=merchant_id,
                name=form.get("name", ""),
                scope=form.get("scope", ""),
                now=utcnow(),
                actor=access.current().actor,
                request_key=form.get("form_key") or None,
            ),
        )
    except LoyaltyError as error:
        return _keys_page(merchant_id, values=form, errors=field_errors(error), status=422)
    return _keys_page(merchant_id, shown=token, created=key.name)


def integration_api_key_revoke(merchant_id: str, prefix: str) -> ResponseReturnValue:
    """Revoke a key: its next request is refused."""
    try:
        key = run_in_transaction(
            get_session(),
            lambda s: api_keys.revoke_api_key(
                s,
                prefix=prefix,
                merchant_id=merchant_id,
                now=utcnow(),
                actor=access.current().actor,
            ),
        )
    except LoyaltyError as error:
        return _keys_page(merchant_id, errors=field_errors(error), status=422)
    access.flash(f"The key {key.name} ({key.prefix}) is revoked.")
    return redirect(url_for("admin.integration_api_keys", merchant_id=merchant_id), 303)


def _keys_page(
    merchant_id: str,
    *,
    values: Any = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
    shown: str | None = None,
    created: str | None = None,
) -> ResponseReturnValue:
    errors = errors or {}
    return _render(
        "admin/integration/api_keys.html",
        page_title="API keys",
        keys=api_keys.list_api_keys(get_session(), merchant_id=merchant_id),
        scopes=[(s.value, SCOPE_LABELS[s]) for s in ApiScope],
        scope_labels=SCOPE_LABELS,
        values=values or {"scope": "read"},
        errors=errors,
        form_error=sentence(errors["form"]) if "form" in errors else None,
        shown=shown,
        created=created,
    ), status


SCOPE_LABELS = {
    ApiScope.READ: "Read: customers, ledgers, quotes, coupons, rewards",
    ApiScope.WRITE: "Write: also holds, coupons, adjustments, reward purchases",
    ApiScope.ADMIN: "Admin: also settings, rewards, coupon campaigns",
}


# -- outgoing webhooks -----------------------------------------------------------------------


def integration_outgoing(merchant_id: str) -> ResponseReturnValue:
    """Where the merchant's webhooks go, and the latest deliveries with their answers."""
    return _outgoing_page(merchant_id)


def integration_outgoing_save(merchant_id: str) -> ResponseReturnValue:
    """Set the endpoint's URL and whether it receives (``loyalty endpoints set``)."""
    form = request.form
    try:
        run_in_transaction(
            get_session(),
            lambda s: outbox.set_endpoint(
                s,
                merchant_id=merchant_id,
                url=form.get("url", "").strip(),
                enabled=form.get("enabled") == "on",
                # The form lists the types with a marker; a post without it keeps them.
                event_types=(
                    form.getlist("event_types") if form.get("event_types_shown") else outbox.KEEP
                ),
                now=utcnow(),
                actor=access.current().actor,
            ),
        )
    except LoyaltyError as error:
        return _outgoing_page(merchant_id, values=form, errors=field_errors(error), status=422)
    access.flash("The endpoint is saved.")
    return redirect(url_for("admin.integration_outgoing", merchant_id=merchant_id), 303)


def integration_outgoing_ping(merchant_id: str) -> ResponseReturnValue:
    """Post a signed ``ping`` to the endpoint now and show how it answered."""
    settings = outbox.OutboxSettings.from_config(current_app.config)
    try:
        result = run_in_transaction(
            get_session(),
            lambda s: outbox.ping_endpoint(
                s,
                merchant_id=merchant_id,
                now=utcnow(),
                settings=settings,
                actor=access.current().actor,
            ),
        )
    except LoyaltyError as error:
        return _outgoing_page(merchant_id, errors=field_errors(error), status=422)
    answer = f"HTTP {result.status_code}" if result.status_code else result.error
    if result.ok:
        access.flash(f"Ping {result.message_id} delivered: {answer} in {result.duration_ms} ms.")
    else:
        access.flash(f"Ping {result.message_id} failed: {answer} after {result.duration_ms} ms.")
    return redirect(url_for("admin.integration_outgoing", merchant_id=merchant_id), 303)


def integration_outgoing_retry(merchant_id: str, message_id: int) -> ResponseReturnValue:
    """Post a dead or waiting message again at the next delivery run (``loyalty outbox retry``)."""
    try:
        run_in_transaction(
            get_session(),
            lambda s: outbox.retry_message(
                s,
                message_id=message_id,
                merchant_id=merchant_id,
                now=utcnow(),
                actor=access.current().actor,
            ),
        )
    except LoyaltyError:
        abort(404)
    access.flash("The message is queued: the next delivery run posts it.")
    return redirect(url_for("admin.integration_outgoing", merchant_id=merchant_id), 303)


def _outgoing_page(
    merchant_id: str,
    *,
    values: Any = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    session = get_session()
    endpoint = session.get(WebhookEndpoint, merchant_id)
    if values is None:
        values = {"url": endpoint.url if endpoint else "",
                  "enabled": "on" if endpoint is None or endpoint.enabled else ""}  # fmt: skip
    chosen = (
        set(values.getlist("event_types"))
        if hasattr(values, "getlist")
        else set(endpoint.event_types or outbox.OUTGOING_TYPES)
        if endpoint
        else set(outbox.OUTGOING_TYPES)
    )
    errors = errors or {}
    return _render(
        "admin/integration/outgoing.html",
        page_title="Outgoing webhooks",
        endpoint=endpoint,
        messages=outbox.list_messages(session, merchant_id=merchant_id),
        events=sorted(outbox.OUTGOING_TYPES),
        chosen=chosen,
        values=values,
        errors=errors,
        form_error=sentence(errors["form"]) if "form" in errors else None,
    ), status
