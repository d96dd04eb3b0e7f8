"""The Campaigns screen: coupons made in bulk for a promotion, without points.

Everyone signed in may read it; managers and owners make, change and end campaigns. Each
form is one call of the service the API calls (``POST /coupon-campaigns``, ``PATCH`` and
``POST .../end``), after the API's argument schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from flask import abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from loyalty_plugin.domain.coupons import CouponKind, CouponValue
from loyalty_plugin.domain.errors import LoyaltyError, ValidationError
from loyalty_plugin.domain.reports import local_midnight, local_today
from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import StaffRole
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.schemas.api import CampaignArgsSchema, CampaignUpdateArgsSchema
from loyalty_plugin.services.ledger.accounts import get_merchant
from loyalty_plugin.services.spending import campaigns, coupons
from loyalty_plugin.services.transaction import run_in_transaction
from loyalty_plugin.web.admin import access
from loyalty_plugin.web.admin.forms import field_errors
from loyalty_plugin.web.admin.views.spending import load_args, whole

#: Campaigns the screen lists (newest first).
SHOWN = 100


def campaigns_list(merchant_id: str) -> ResponseReturnValue:
    """Every campaign with what became of its coupons, and the form for a new one."""
    return _list_page(merchant_id)


def campaign_create(merchant_id: str) -> ResponseReturnValue:
    """Make a campaign's coupons (one ``create_campaign``; once per form key)."""
    form = request.form
    actor = access.current().actor
    session = get_session()
    try:
        merchant = get_merchant(session, merchant_id)
        args = load_args(CampaignArgsSchema(), _create_args(form, merchant))
        campaign, _made = run_in_transaction(
            session,
            lambda s: coupons.create_campaign(
                s,
                merchant_id=merchant_id,
                name=args["name"],
                count=args["count"],
                value=CouponValue(
                    kind=args["kind"],
                    amount=args.get("amount"),
                    currency=args.get("currency"),
                    percent=args.get("percent"),
                ),
                expires_at=args.get("expires_at"),
                prefix=args["prefix"],
                now=utcnow(),
                actor=actor,
                request_key=form.get("form_key") or None,
            ),
        )
    except LoyaltyError as error:
        return _list_page(merchant_id, create=form, errors=_errors(error), status=422)
    access.flash(f"{campaign.name}: {campaign.count} coupons made.")
    return redirect(_page_of(merchant_id, campaign.id), 303)


def campaign_page(merchant_id: str, campaign_id: int) -> ResponseReturnValue:
    """One campaign: its coupons by status, its name and expiry to edit, and End."""
    summary = _summary(merchant_id, campaign_id)
    return _campaign_page(merchant_id, summary, _edit_form(summary, _zone(merchant_id)))


def campaign_save(merchant_id: str, campaign_id: int) -> ResponseReturnValue:
    """Rename the campaign or move its expiry (one ``update_campaign``)."""
    form = request.form
    actor = access.current().actor
    summary = _summary(merchant_id, campaign_id)
    try:
        changes = load_args(CampaignUpdateArgsSchema(), _edit_args(form, _zone(merchant_id)))
        run_in_transaction(
            get_session(),
            lambda s: campaigns.update_campaign(
                s,
                merchant_id=merchant_id,
                campaign_id=campaign_id,
                changes=changes,
                now=utcnow(),
                actor=actor,
            ),
        )
    except LoyaltyError as error:
        summary = _summary(merchant_id, campaign_id)
        return _campaign_page(merchant_id, summary, form, errors=_errors(error), status=422)
    access.flash(f"{summary.campaign.name} saved.")
    return redirect(_page_of(merchant_id, campaign_id), 303)


def campaign_end(merchant_id: str, campaign_id: int) -> ResponseReturnValue:
    """End the campaign now: its unused coupons are cancelled (one ``end_campaign``)."""
    actor = access.current().actor
    summary = _summary(merchant_id, campaign_id)
    try:
        ended = run_in_transaction(
            get_session(),
            lambda s: campaigns.end_campaign(
                s, merchant_id=merchant_id, campaign_id=campaign_id, now=utcnow(), actor=actor
            ),
        )
    except LoyaltyError as error:
        values = _edit_form(summary, _zone(merchant_id))
        return _campaign_page(merchant_id, summary, values, errors=_errors(error), status=409)
    cancelled = ended.counts["cancelled"]
    access.flash(f"{ended.campaign.name} has ended; {cancelled} unused coupons are cancelled.")
    return redirect(_page_of(merchant_id, campaign_id), 303)


# -- helpers ---------------------------------------------------------------------------------


def _errors(error: LoyaltyError) -> dict[str, str]:
    """The service's error at its field; the API's ``expires_at`` is the form's last day."""
    return {
        "last_day" if key == "expires_at" else key: message
        for key, message in field_errors(error).items()
    }


def _page_of(merchant_id: str, campaign_id: int) -> str:
    return url_for("admin.campaign_page", merchant_id=merchant_id, campaign_id=campaign_id)


def _zone(merchant_id: str) -> str:
    return get_merchant(get_session(), merchant_id).timezone


def _summary(merchant_id: str, campaign_id: int) -> campaigns.CampaignSummary:
    try:
        return campaigns.get_campaign(
            get_session(), merchant_id=merchant_id, campaign_id=campaign_id
        )
    except LoyaltyError:
        abort(404)


def _list_page(
    merchant_id: str,
    *,
    create: Mapping[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    session = get_session()
    merchant = get_merchant(session, merchant_id)
    return render_template(
        "admin/campaigns/list.html",
        page_title="Campaigns",
        campaigns=campaigns.list_campaigns(session, merchant_id=merchant_id, limit=SHOWN),
        create=create or {},
        errors=errors or {},
        currency=merchant.currency,
        now=utcnow(),
        last_day=lambda s: last_day(s, merchant.timezone),
        may_edit=access.current().may(StaffRole.MANAGER),
    ), status


def _campaign_page(
    merchant_id: str,
    summary: campaigns.CampaignSummary,
    values: Mapping[str, str],
    *,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    now = utcnow()
    return render_template(
        "admin/campaigns/campaign.html",
        page_title=f"Campaign: {summary.campaign.name}",
        summary=summary,
        campaign=summary.campaign,
        ended=summary.ended(now),
        last=last_day(summary, _zone(merchant_id)),
        values=values,
        errors=errors or {},
        may_edit=access.current().may(StaffRole.MANAGER),
    ), status


def last_day(summary: campaigns.CampaignSummary, zone: str) -> date | None:
    """The merchant's last day the campaign's coupons can be used (``None``: no expiry)."""
    expires = summary.campaign.expires_at
    return None if expires is None else local_today(expires - timedelta(microseconds=1), zone)


def _edit_form(summary: campaigns.CampaignSummary, zone: str) -> dict[str, str]:
    last = last_day(summary, zone)
    return {"name": summary.campaign.name, "last_day": "" if last is None else last.isoformat()}


def _expiry(text: str, zone: str) -> str | None:
    """A last day (the merchant's, included) as the API's ``expires_at``: the next midnight."""
    text = text.strip()
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise ValidationError("must be a date such as 2026-12-31", field="last_day") from None
    return local_midnight(day + timedelta(days=1), zone).isoformat()


def _edit_args(form: Mapping[str, str], zone: str) -> dict[str, Any]:
    return {
        "name": form.get("name", "").strip(),
        "expires_at": _expiry(form.get("last_day", ""), zone),
    }


def _create_args(form: Mapping[str, str], merchant: Any) -> dict[str, Any]:
    kind = form.get("kind", "percent")
    args: dict[str, Any] = {
        "name": form.get("name", "").strip(),
        "count": whole(form.get("count", ""), "count"),
        "kind": kind,
        "prefix": form.get("prefix", "").strip(),
        "expires_at": _expiry(form.get("last_day", ""), merchant.timezone),
    }
    if kind == CouponKind.AMOUNT:
        args["amount"] = form.get("amount", "").strip() or None
        args["currency"] = merchant.currency
    else:
        args["percent"] = form.get("percent", "").strip() or None
    return args
