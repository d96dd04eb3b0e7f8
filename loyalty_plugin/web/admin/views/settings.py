"""Merchant settings (owners): the merchant's particulars and the approval threshold for
adjustments, checked by the API's own schema so both answer a bad value the same way."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import available_timezones

import marshmallow
from flask import redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from loyalty_plugin.domain.errors import LoyaltyError, ValidationError
from loyalty_plugin.domain.reports import local_midnight
from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import Merchant, NotificationSettings, StaffRole
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.schemas.api import MerchantUpdateArgsSchema, SettingsSchema
from loyalty_plugin.services.earning import programs
from loyalty_plugin.services.merchants import particulars
from loyalty_plugin.services.spending import settings as spending
from loyalty_plugin.services.transaction import run_in_transaction
from loyalty_plugin.web.admin import access
from loyalty_plugin.web.admin.forms import field_errors, sentence
from loyalty_plugin.web.admin.views.spending import load_args

#: The settings this page edits, as the API names them.
FIELDS = ("adjustment_approval_above",)
#: The merchant's particulars the page edits (``PATCH /merchant``).
PARTICULARS = ("name", "currency", "timezone", "locale")


def merchant_settings(merchant_id: str) -> ResponseReturnValue:
    """The merchant's particulars and the settings form."""
    current = spending.merchant_settings(get_session(), merchant_id)
    values = {name: _shown(getattr(current, name)) for name in FIELDS}
    return page(merchant_id, values=values)


def merchant_settings_save(merchant_id: str) -> ResponseReturnValue:
    """Save the form through ``update_settings`` (``PATCH /settings`` does the same)."""
    values = {name: request.form.get(name, "").strip() for name in FIELDS}
    try:
        changes = SettingsSchema(partial=True).load({n: _typed(v) for n, v in values.items()})
    except marshmallow.ValidationError as invalid:
        errors = {name: sentence(" ".join(messages)) for name, messages in invalid.messages.items()}
        return page(merchant_id, values=values, errors=errors, status=422)
    try:
        run_in_transaction(
            get_session(),
            lambda s: spending.update_settings(
                s,
                merchant_id=merchant_id,
                changes=changes,
                now=utcnow(),
                actor=access.current().actor,
            ),
        )
    except LoyaltyError as error:
        return page(merchant_id, values=values, errors=field_errors(error), status=422)
    access.flash("Settings saved.")
    return redirect(url_for("admin.integration_settings", merchant_id=merchant_id), 303)


def merchant_particulars_save(merchant_id: str) -> ResponseReturnValue:
    """Save the merchant's name, currency, time zone and locale (``PATCH /merchant``)."""
    form = {name: request.form.get(name, "").strip() for name in PARTICULARS}
    try:
        changes = load_args(MerchantUpdateArgsSchema(), dict(form))
        run_in_transaction(
            get_session(),
            lambda s: particulars.update_particulars(
                s,
                merchant_id=merchant_id,
                changes=changes,
                now=utcnow(),
                actor=access.current().actor,
            ),
        )
    except LoyaltyError as error:
        return page(merchant_id, facts=form, fact_errors=field_errors(error), status=422)
    access.flash("Merchant saved.")
    return redirect(url_for("admin.integration_settings", merchant_id=merchant_id), 303)


def exchange_rate_save(merchant_id: str) -> ResponseReturnValue:
    """Record an exchange rate from a day (``set_exchange_rate``, as ``loyalty rates set``)."""
    form = {name: request.form.get(name, "").strip() for name in ("currency", "rate", "from")}
    session = get_session()
    try:
        rate = _rate(form["rate"])
        zone = particulars.particulars(session, merchant_id)["timezone"]
        valid_from = _day_start(form["from"], zone)
        run_in_transaction(
            session,
            lambda s: programs.set_exchange_rate(
                s,
                merchant_id=merchant_id,
                currency=form["currency"].upper(),
                rate=rate,
                valid_from=valid_from,
                now=utcnow(),
                actor=access.current().actor,
            ),
        )
    except LoyaltyError as error:
        return page(merchant_id, rate_form=form, rate_errors=field_errors(error), status=422)
    access.flash(f"1 {form['currency'].upper()} = {rate} from {valid_from:%Y-%m-%d %H:%M} UTC.")
    return redirect(url_for("admin.integration_settings", merchant_id=merchant_id), 303)


def _rate(text: str) -> Decimal:
    try:
        rate = Decimal(text.replace(",", "."))
    except InvalidOperation:
        raise ValidationError("must be a number such as 0.92", field="rate") from None
    if not rate.is_finite() or rate <= 0 or len(text) > 24:
        raise ValidationError("must be a number above 0", field="rate")
    return rate


def _day_start(text: str, zone: str) -> datetime:
    """The start of the merchant's day ``text`` (empty: now)."""
    if not text:
        return utcnow().replace(microsecond=0)
    try:
        return local_midnight(date.fromisoformat(text), zone)
    except ValueError:
        raise ValidationError("must be a date such as 2026-12-01", field="from") from None


def _typed(text: str) -> Any:
    """A form's text as the JSON value the API would get: empty is null, digits a number."""
    if not text:
        return None
    return int(text) if text.lstrip("-").isdigit() else text


def _locale(row: NotificationSettings | None) -> str:
    return row.locale if row is not None else "en"


def _shown(value: Any) -> str:
    return "" if value is None else str(value)


def page(
    merchant_id: str,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
    embedding: str | None = None,
    facts: dict[str, str] | None = None,
    fact_errors: dict[str, str] | None = None,
    rate_form: dict[str, str] | None = None,
    rate_errors: dict[str, str] | None = None,
) -> ResponseReturnValue:
    """The settings page; a form shown again passes what was typed and its ``errors``."""
    session = get_session()
    errors = errors or {}
    current = spending.merchant_settings(session, merchant_id)
    if values is None:
        values = {name: _shown(getattr(current, name)) for name in FIELDS}
    if embedding is None:  # the portal embedding section (views/portal_embedding.py)
        embedding = "\n".join(current.portal_frame_ancestors or ())
    stored = particulars.particulars(session, merchant_id)
    return render_template(
        "admin/settings/merchant.html",
        Role=StaffRole,
        page_title="Settings",
        merchant=session.get(Merchant, merchant_id),
        locale=_locale(session.get(NotificationSettings, merchant_id)),
        values=values,
        embedding=embedding,
        facts=facts or {k: str(v) for k, v in stored.items()},
        currency_changeable=stored["currency_changeable"],
        zones=sorted(available_timezones()),
        fact_errors=fact_errors or {},
        rates=programs.list_exchange_rates(session, merchant_id),
        rate_form=rate_form or {},
        rate_errors=rate_errors or {},
        errors=errors,
        form_error=sentence(errors["form"]) if "form" in errors else None,
    ), status
