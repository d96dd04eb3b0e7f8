"""The Bonus campaigns screen (#18): time-boxed extra points with budgets.

Everyone signed in may read it; managers and owners make, change and end campaigns. Each
form is one call of the service the API calls (``POST /bonus-campaigns``, ``PATCH
/bonus-campaigns/{key}`` and ``POST .../end``); the service's validation errors come back
at their fields. Not the coupon Campaigns screen.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from loyalty_plugin.domain.errors import LoyaltyError, NotFound, ValidationError
from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import BonusCampaign, StaffRole
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.schemas.programs import InvalidProgram
from loyalty_plugin.services.earning import bonus_campaigns as svc
from loyalty_plugin.services.earning.programs import list_programs
from loyalty_plugin.services.ledger.accounts import get_merchant
from loyalty_plugin.services.transaction import run_in_transaction
from loyalty_plugin.web.admin import access
from loyalty_plugin.web.admin.forms import field_errors, sentence

#: The form's fields, in the service's names.
FIELDS = (
    "key", "name", "program", "starts_at", "ends_at", "gives", "multiplier", "points",
    "budget", "budget_per_customer", "priority", "conditions",
)  # fmt: skip


def bonus_campaigns_list(merchant_id: str) -> ResponseReturnValue:
    """Every bonus campaign with what it gave, and the form for a new one."""
    return _list_page(merchant_id)


def bonus_campaign_create(merchant_id: str) -> ResponseReturnValue:
    """Make a campaign (one ``create_bonus_campaign``)."""
    form = request.form
    actor = access.current().actor
    try:
        zone = get_merchant(get_session(), merchant_id).timezone
        definition = _definition(form, zone)
        campaign = run_in_transaction(
            get_session(),
            lambda s: svc.create_bonus_campaign(
                s, merchant_id=merchant_id, definition=definition, now=utcnow(), actor=actor
            ),
        )
    except LoyaltyError as error:
        return _list_page(merchant_id, create=form, errors=_errors(error), status=422)
    access.flash(f"{campaign.name} saved.")
    return redirect(url_for("admin.bonus_campaigns_list", merchant_id=merchant_id), 303)


def bonus_campaign_edit(merchant_id: str, key: str) -> ResponseReturnValue:
    """A campaign's form, filled in with what it is now."""
    session = get_session()
    campaign = _campaign_or_404(merchant_id, key)
    zone = get_merchant(session, merchant_id).timezone
    return _edit_page(merchant_id, key, _form_of(svc.campaign_document(campaign), zone))


def bonus_campaign_save(merchant_id: str, key: str) -> ResponseReturnValue:
    """Change a campaign (one ``update_bonus_campaign``); its key stays."""
    form = request.form
    actor = access.current().actor
    _campaign_or_404(merchant_id, key)
    try:
        zone = get_merchant(get_session(), merchant_id).timezone
        changes = {k: v for k, v in _definition(form, zone).items() if k != "key"}
        campaign = run_in_transaction(
            get_session(),
            lambda s: svc.update_bonus_campaign(
                s, merchant_id=merchant_id, key=key, changes=changes, now=utcnow(), actor=actor
            ),
        )
    except LoyaltyError as error:
        return _edit_page(merchant_id, key, form, errors=_errors(error), status=422)
    access.flash(f"{campaign.name} saved.")
    return redirect(url_for("admin.bonus_campaigns_list", merchant_id=merchant_id), 303)


def bonus_campaign_end(merchant_id: str, key: str) -> ResponseReturnValue:
    """End a campaign now (one ``end_bonus_campaign``)."""
    actor = access.current().actor
    try:
        campaign = run_in_transaction(
            get_session(),
            lambda s: svc.end_bonus_campaign(
                s, merchant_id=merchant_id, key=key, now=utcnow(), actor=actor
            ),
        )
    except LoyaltyError as error:
        return _list_page(merchant_id, errors=_errors(error), status=409)
    access.flash(f"{campaign.name} has ended.")
    return redirect(url_for("admin.bonus_campaigns_list", merchant_id=merchant_id), 303)


# -- helpers ---------------------------------------------------------------------------------


def _errors(error: LoyaltyError) -> dict[str, str]:
    """Each field the service refused, at the form's field (``conditions.when...`` at
    ``conditions``; ``multiplier`` or ``points`` at the one chosen)."""
    if not isinstance(error, InvalidProgram):
        return field_errors(error)
    shown: dict[str, str] = {}
    for path, messages in error.fields.items():
        name = path.split(".")[0]
        name = name if name in FIELDS else "form"
        detail = path[len(name) + 1 :]
        message = f"{detail}: {messages[0]}" if detail else messages[0]
        shown.setdefault(name, sentence(message))
    return shown


def _definition(form: Mapping[str, str], zone: str) -> dict[str, Any]:
    """The form as the API's body: local times in the merchant's zone, numbers as numbers."""
    gives = form.get("gives", "multiplier")
    return {
        "key": form.get("key", "").strip(),
        "name": form.get("name", "").strip(),
        "program": form.get("program") or None,
        "starts_at": _moment(form.get("starts_at", ""), zone, "starts_at"),
        "ends_at": _moment(form.get("ends_at", ""), zone, "ends_at"),
        "multiplier": form.get("multiplier", "").strip() or None if gives == "multiplier" else None,
        "points": _whole(form.get("points", ""), "points") if gives == "points" else None,
        "budget": _whole(form.get("budget", ""), "budget"),
        "budget_per_customer": _whole(form.get("budget_per_customer", ""), "budget_per_customer"),
        "priority": _whole(form.get("priority", ""), "priority") or 0,
        "conditions": _conditions(form.get("conditions", "")),
    }


def _moment(text: str, zone: str, field: str) -> str | None:
    """A local ``YYYY-MM-DDTHH:MM`` in the merchant's zone, as ISO 8601 with its offset."""
    text = text.strip()
    if not text:
        return None
    try:
        local = datetime.fromisoformat(text)
    except ValueError:
        message = "must be a date and time such as 2026-06-06T00:00"
        raise ValidationError(message, field=field) from None
    return local.replace(tzinfo=ZoneInfo(zone)).isoformat()


def _whole(text: str, field: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if text.lstrip("-").isdigit() and len(text) < 19:
        return int(text)
    raise ValidationError("must be a whole number", field=field)


def _conditions(text: str) -> Any:
    text = text.strip()
    if not text:
        return {}
    try:
        return json.loads(text)
    except ValueError:
        message = "must be a JSON object (see docs/programs.md)"
        raise ValidationError(message, field="conditions") from None


def _campaign_or_404(merchant_id: str, key: str) -> BonusCampaign:
    try:
        return svc.get_bonus_campaign(get_session(), merchant_id, key)
    except NotFound:
        abort(404)


def _form_of(document: Mapping[str, Any], zone: str) -> dict[str, str]:
    """A campaign's document as the form's fields: local times, numbers as text."""
    local = ZoneInfo(zone)

    def moment(iso: str) -> str:
        return datetime.fromisoformat(iso).astimezone(local).strftime("%Y-%m-%dT%H:%M")

    def text(value: Any) -> str:
        return "" if value is None else str(value)

    return {
        "key": document["key"],
        "name": document["name"],
        "program": text(document["program"]),
        "starts_at": moment(document["starts_at"]),
        "ends_at": moment(document["ends_at"]),
        "gives": "multiplier" if document["multiplier"] is not None else "points",
        "multiplier": text(document["multiplier"]),
        "points": text(document["points"]),
        "budget": text(document["budget"]),
        "budget_per_customer": text(document["budget_per_customer"]),
        "priority": text(document["priority"]),
        "conditions": json.dumps(document["conditions"]) if document["conditions"] else "",
    }


def _edit_page(
    merchant_id: str,
    key: str,
    values: Mapping[str, str],
    *,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    session = get_session()
    campaign = svc.get_bonus_campaign(session, merchant_id, key)
    merchant = get_merchant(session, merchant_id)
    return render_template(
        "admin/bonus_campaigns/edit.html",
        page_title=f"Change {campaign.name}",
        campaign=svc.campaign_document(campaign, now=utcnow()),
        programs=[p.key for p in list_programs(session, merchant_id)],
        values=values,
        errors=errors or {},
        zone=merchant.timezone,
    ), status


def _list_page(
    merchant_id: str,
    *,
    create: Mapping[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    session = get_session()
    merchant = get_merchant(session, merchant_id)
    now = utcnow()
    zone = ZoneInfo(merchant.timezone)
    rows = svc.list_bonus_campaigns(session, merchant_id)
    return render_template(
        "admin/bonus_campaigns/list.html",
        page_title="Bonus campaigns",
        campaigns=[svc.campaign_document(c, now=now) for c in rows],
        programs=[p.key for p in list_programs(session, merchant_id)],
        create=create or {},
        errors=errors or {},
        local=lambda iso: datetime.fromisoformat(iso).astimezone(zone).strftime("%Y-%m-%d %H:%M"),
        zone=merchant.timezone,
        may_edit=access.current().may(StaffRole.MANAGER),
    ), status
