"""The Expiry and reminders screen: the expiry policy, reminder offsets, which e-mails go
out, a preview of what the next expiry run will take, and (for a merchant with a store
credit wallet) how long store credit lasts.

Everyone signed in may read it; managers and owners change it. Each form is one call of
the service the API's ``PUT /expiry-policy`` and ``PATCH /email-switches`` make, after the
same argument schema; the preview is the read-only query of ``GET /expiry-policy/preview``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from flask import redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from loyalty_plugin.domain.errors import LoyaltyError, ValidationError
from loyalty_plugin.domain.expiry import ExpiryKind, ExpiryPolicy
from loyalty_plugin.domain.notifications import Message
from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import StaffRole
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.schemas import expiry as x
from loyalty_plugin.schemas.api import SettingsUpdateArgsSchema
from loyalty_plugin.services.ledger import expiry
from loyalty_plugin.services.messaging import notifications
from loyalty_plugin.services.spending.settings import merchant_settings, update_settings
from loyalty_plugin.services.transaction import run_in_transaction
from loyalty_plugin.web.admin import access
from loyalty_plugin.web.admin.forms import field_errors
from loyalty_plugin.web.admin.views.spending import load_args, whole

#: The policies, as the form offers them.
KINDS = [
    (ExpiryKind.NEVER.value, "Never (unless inactive)"),
    (ExpiryKind.DAYS_AFTER_EARNING.value, "A number of days after earning"),
    (ExpiryKind.END_OF_MONTH.value, "At the end of the month of earning"),
    (ExpiryKind.END_OF_YEAR.value, "At the end of the year of earning"),
    (ExpiryKind.FIXED_DATE.value, "On a fixed date"),
]
#: The e-mails, as the form names them.
EMAILS = [
    (Message.POINTS_EXPIRING, "Points about to expire", "at each reminder offset"),
    (Message.POINTS_EXPIRED, "Points expired", "after an expiry run took points"),
    (Message.CREDIT_EXPIRING, "Store credit about to expire", "at each reminder offset"),
    (Message.CREDIT_EXPIRED, "Store credit expired", "after an expiry run took credit"),
    (Message.COUPON_EXPIRING, "Coupon about to expire", "the coupon reminder days before"),
    (Message.POINTS_EARNED, "Points earned", "after each purchase that earns"),
    (Message.LEVEL_CHANGED, "Level changed", "up or down a membership level"),
    (Message.BIRTHDAY, "Birthday", "marketing: only to customers who agreed"),
    (Message.WELCOME, "Welcome", "marketing: only to customers who agreed"),
    (Message.PORTAL_LINK, "Portal link", "asked for by the customer or sent by staff"),
]
assert {m for m, _, _ in EMAILS} == set(Message)  # noqa: S101 - every message, checked
#: How far ahead the preview may look, in days.
PREVIEW_DAYS = (0, 7, 30, 90)


def expiry_page(merchant_id: str) -> ResponseReturnValue:
    """The policy, the e-mails and the preview of the next run (``?ahead=`` days)."""
    return _page(merchant_id)


def expiry_policy(merchant_id: str) -> ResponseReturnValue:
    """Set the expiry policy and reminder offsets (one ``set_expiry_policy``)."""
    form = request.form
    actor = access.current().actor
    try:
        policy = x.policy_of(load_args(x.ExpiryPolicyArgsSchema(), _policy_args(form)))
        run_in_transaction(
            get_session(),
            lambda s: expiry.set_expiry_policy(
                s, merchant_id=merchant_id, policy=policy, now=utcnow(), actor=actor
            ),
        )
    except LoyaltyError as error:
        return _page(merchant_id, policy_form=form, errors=field_errors(error), status=422)
    access.flash("Expiry policy saved; it applies to points earned from now on.")
    return redirect(url_for("admin.expiry_page", merchant_id=merchant_id), 303)


def expiry_emails(merchant_id: str) -> ResponseReturnValue:
    """Switch e-mails on or off (one ``set_notification_prefs``)."""
    form = request.form
    actor = access.current().actor
    session = get_session()
    try:
        args = load_args(x.EmailSwitchesArgsSchema(), _email_args(form))
        prefs = x.switched(notifications.notification_prefs(session, merchant_id), args)
        run_in_transaction(
            session,
            lambda s: notifications.set_notification_prefs(
                s, merchant_id=merchant_id, prefs=prefs, now=utcnow(), actor=actor
            ),
        )
    except LoyaltyError as error:
        return _page(merchant_id, email_form=form, errors=field_errors(error), status=422)
    access.flash("E-mail settings saved.")
    return redirect(url_for("admin.expiry_page", merchant_id=merchant_id) + "#emails", 303)


def expiry_credit(merchant_id: str) -> ResponseReturnValue:
    """Set how many months store credit lasts (one ``update_settings``, as ``PATCH
    /settings`` with ``credit_expiry_months``; empty: never)."""
    form = request.form
    actor = access.current().actor
    try:
        text = form.get("credit_expiry_months", "").strip()
        months = whole(text, "credit_expiry_months") if text else None
        args = load_args(SettingsUpdateArgsSchema(), {"credit_expiry_months": months})
        run_in_transaction(
            get_session(),
            lambda s: update_settings(
                s, merchant_id=merchant_id, changes=args, now=utcnow(), actor=actor
            ),
        )
    except LoyaltyError as error:
        return _page(merchant_id, credit_form=form, errors=field_errors(error), status=422)
    access.flash("Store credit expiry saved; it applies to credit earned from now on.")
    return redirect(url_for("admin.expiry_page", merchant_id=merchant_id) + "#credit", 303)


# -- helpers ---------------------------------------------------------------------------------


def _page(
    merchant_id: str,
    *,
    policy_form: Mapping[str, str] | None = None,
    email_form: Mapping[str, str] | None = None,
    credit_form: Mapping[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    session = get_session()
    settings = merchant_settings(session, merchant_id)
    policy = expiry.expiry_policy(session, merchant_id)
    prefs = notifications.notification_prefs(session, merchant_id)
    ahead = _ahead(request.args.get("ahead"))
    now = utcnow()
    preview = expiry.preview_expiry(session, merchant_id=merchant_id, at=now + timedelta(ahead))
    return render_template(
        "admin/expiry/page.html",
        page_title="Expiry and reminders",
        policy=policy,
        policy_form=policy_form if policy_form is not None else _policy_form(policy),
        email_form=email_form,
        credit_form=credit_form,
        # Shown to merchants with a store credit wallet (or a credit expiry already set).
        show_credit=bool(settings.credit_currencies) or settings.credit_expiry_months is not None,
        credit_months=settings.credit_expiry_months,
        prefs=prefs,
        emails=EMAILS,
        kinds=KINDS,
        preview=preview,
        ahead=ahead,
        preview_days=PREVIEW_DAYS,
        errors=errors or {},
        may_edit=access.current().may(StaffRole.MANAGER),
    ), status


def _ahead(text: str | None) -> int:
    return int(text) if text and text.isdigit() and int(text) in PREVIEW_DAYS else 0


def _policy_form(policy: ExpiryPolicy) -> dict[str, str]:
    shown = {k: "" if v is None else str(v) for k, v in dataclasses.asdict(policy).items()}
    shown["kind"] = policy.kind.value
    shown["reminder_days"] = ", ".join(str(d) for d in policy.reminder_days)
    return shown


def _policy_args(form: Mapping[str, str]) -> dict[str, Any]:
    """The form as the API's JSON body."""
    args: dict[str, Any] = {"kind": form.get("kind", "")}
    for key in ("days", "inactivity_months"):
        text = form.get(key, "").strip()
        args[key] = whole(text, key) if text else None
    extra = form.get("extra_months", "").strip()
    args["extra_months"] = whole(extra, "extra_months") if extra else 0
    args["fixed_date"] = form.get("fixed_date", "").strip() or None
    args["reminder_days"] = [
        whole(part, "reminder_days")
        for part in form.get("reminder_days", "").split(",")
        if part.strip()
    ]
    return args


def _email_args(form: Mapping[str, str]) -> dict[str, Any]:
    days = form.get("coupon_reminder_days", "").strip()
    if not days:
        raise ValidationError("is required", field="coupon_reminder_days")
    return {
        "enabled": {m.value: form.get(f"email_{m.value}") == "1" for m in Message},
        "coupon_reminder_days": whole(days, "coupon_reminder_days"),
    }
