"""The Spending screen: what points are worth at the till, coupon conversion, rewards, and
(for a merchant with a store credit wallet) how store credit may be spent.

Everyone signed in may read it; managers and owners change it. Each form is one call of
the same service the API's ``PATCH /settings`` and ``POST /rewards`` make, after the same
argument schema: a bad value gets the API's message, at its field, and changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from flask import abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from marshmallow import Schema
from marshmallow import ValidationError as SchemaError

from loyalty_plugin.domain.coupons import CouponKind, CouponValue
from loyalty_plugin.domain.errors import LoyaltyError, ValidationError
from loyalty_plugin.domain.reports import local_midnight, local_today
from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import StaffRole
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.schemas.api import (
    RewardArgsSchema,
    RewardUpdateArgsSchema,
    SettingsUpdateArgsSchema,
)
from loyalty_plugin.services.ledger.accounts import get_merchant
from loyalty_plugin.services.spending import rewards, settings
from loyalty_plugin.services.transaction import run_in_transaction
from loyalty_plugin.web.admin import access
from loyalty_plugin.web.admin.forms import field_errors, sentence

#: The settings the page edits: whole numbers, amounts, limits (empty is "no limit"), flags.
WHOLE = ("conversion_points", "min_redeem_points", "coupon_points", "coupon_min_points")
AMOUNTS = ("conversion_amount", "max_invoice_share", "coupon_amount")
LIMITS = ("max_points_per_invoice", "coupon_valid_days")
FLAGS = ("coupon_conversion",)
#: The store credit settings (#19), shown to merchants with a credit wallet.
CREDIT_AMOUNTS = ("credit_max_invoice_share", "points_to_credit_amount")
#: How many rewards the catalogue shows.
REWARDS_SHOWN = 100


def spending(merchant_id: str) -> ResponseReturnValue:
    """The settings and the rewards catalogue."""
    return _page(merchant_id)


def spending_settings(merchant_id: str) -> ResponseReturnValue:
    """Change the conversion rate, the caps and coupon conversion (one ``update_settings``)."""
    form = request.form
    actor = access.current().actor
    try:
        changes = load_args(SettingsUpdateArgsSchema(), _settings_args(form))
        run_in_transaction(
            get_session(),
            lambda s: settings.update_settings(
                s, merchant_id=merchant_id, changes=changes, now=utcnow(), actor=actor
            ),
        )
    except LoyaltyError as error:
        return _page(merchant_id, values=form, errors=field_errors(error), status=422)
    access.flash("Spending settings saved.")
    return redirect(url_for("admin.spending", merchant_id=merchant_id), 303)


def spending_credit(merchant_id: str) -> ResponseReturnValue:
    """Change how store credit is spent: its share of an invoice, coupons bought with it and
    the points-to-credit rate (one ``update_settings``, as ``PATCH /settings``)."""
    form = request.form
    actor = access.current().actor
    try:
        changes = load_args(SettingsUpdateArgsSchema(), _credit_args(form))
        run_in_transaction(
            get_session(),
            lambda s: settings.update_settings(
                s, merchant_id=merchant_id, changes=changes, now=utcnow(), actor=actor
            ),
        )
    except LoyaltyError as error:
        return _page(merchant_id, credit=form, errors=field_errors(error), status=422)
    access.flash("Store credit settings saved.")
    return redirect(url_for("admin.spending", merchant_id=merchant_id) + "#credit", 303)


def spending_reward_add(merchant_id: str) -> ResponseReturnValue:
    """Add a reward to the catalogue (one ``create_reward``)."""
    form = request.form
    actor = access.current().actor
    session = get_session()
    try:
        args = load_args(RewardArgsSchema(), _reward_args(form, get_merchant(session, merchant_id)))
        reward = run_in_transaction(
            session,
            lambda s: rewards.create_reward(
                s,
                merchant_id=merchant_id,
                name=args["name"],
                description=args.get("description"),
                points=args["points"],
                value=CouponValue(
                    kind=args["kind"],
                    amount=args.get("amount"),
                    currency=args.get("currency"),
                    percent=args.get("percent"),
                ),
                stock=args.get("stock"),
                per_customer_limit=args.get("per_customer_limit"),
                coupon_valid_days=args.get("coupon_valid_days"),
                active_from=args.get("active_from"),
                active_until=args.get("active_until"),
                now=utcnow(),
                actor=actor,
                request_key=form.get("form_key") or None,
            ),
        )
    except LoyaltyError as error:
        return _page(merchant_id, reward=form, errors=field_errors(error), status=422)
    access.flash(f"{reward.name} is in the catalogue for {reward.points} points.")
    return redirect(url_for("admin.spending", merchant_id=merchant_id) + "#rewards", 303)


def spending_reward_page(merchant_id: str, reward_id: int) -> ResponseReturnValue:
    """The reward editor: name, price, limits and the days it is on offer."""
    try:
        reward = rewards.get_reward(get_session(), merchant_id=merchant_id, reward_id=reward_id)
    except LoyaltyError:
        abort(404)
    return _reward_page(merchant_id, reward, _reward_form(reward, _zone(merchant_id)))


def spending_reward_save(merchant_id: str, reward_id: int) -> ResponseReturnValue:
    """Save the reward editor (one ``update_reward``, after the API's ``PATCH`` schema)."""
    form = request.form
    actor = access.current().actor
    session = get_session()
    try:
        reward = rewards.get_reward(session, merchant_id=merchant_id, reward_id=reward_id)
    except LoyaltyError:
        abort(404)
    try:
        changes = load_args(RewardUpdateArgsSchema(), _reward_changes(form, _zone(merchant_id)))
        reward = run_in_transaction(
            session,
            lambda s: rewards.update_reward(
                s,
                merchant_id=merchant_id,
                reward_id=reward_id,
                changes=changes,
                now=utcnow(),
                actor=actor,
            ),
        )
    except LoyaltyError as error:
        session.rollback()
        reward = rewards.get_reward(session, merchant_id=merchant_id, reward_id=reward_id)
        return _reward_page(merchant_id, reward, form, errors=field_errors(error), status=422)
    access.flash(f"{reward.name} saved.")
    return redirect(url_for("admin.spending", merchant_id=merchant_id) + "#rewards", 303)


def spending_reward_active(merchant_id: str, reward_id: int) -> ResponseReturnValue:
    """Take a reward off the catalogue, or offer it again (one ``update_reward``)."""
    active = request.form.get("active") == "1"
    actor = access.current().actor
    try:
        reward = run_in_transaction(
            get_session(),
            lambda s: rewards.update_reward(
                s,
                merchant_id=merchant_id,
                reward_id=reward_id,
                changes={"active": active},
                now=utcnow(),
                actor=actor,
            ),
        )
    except LoyaltyError as error:
        return _page(merchant_id, errors=field_errors(error), status=422)
    access.flash(f"{reward.name} is {'on offer' if active else 'no longer on offer'}.")
    return redirect(url_for("admin.spending", merchant_id=merchant_id) + "#rewards", 303)


# -- helpers ---------------------------------------------------------------------------------


def _zone(merchant_id: str) -> str:
    return get_merchant(get_session(), merchant_id).timezone


def _reward_page(
    merchant_id: str,
    reward: Any,
    values: Mapping[str, str],
    *,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    return render_template(
        "admin/spending/reward.html",
        page_title=f"Reward: {reward.name}",
        reward=reward,
        values=values,
        errors=errors or {},
        currency=get_merchant(get_session(), merchant_id).currency,
    ), status


def _reward_form(reward: Any, zone: str) -> dict[str, str]:
    """The stored reward as the editor shows it (the dates as the merchant's days)."""
    shown = {
        "name": reward.name,
        "description": reward.description or "",
        "points": str(reward.points),
    }
    for key in ("stock", "per_customer_limit", "coupon_valid_days"):
        value = getattr(reward, key)
        shown[key] = "" if value is None else str(value)
    first, last = offer_days(reward, zone)
    shown["active_from"] = "" if first is None else first.isoformat()
    shown["active_until"] = "" if last is None else last.isoformat()
    return shown


def offer_days(reward: Any, zone: str) -> tuple[date | None, date | None]:
    """The first and last of the merchant's days a reward is on offer (``None``: open)."""
    first = None if reward.active_from is None else local_today(reward.active_from, zone)
    last = None
    if reward.active_until is not None:
        last = local_today(reward.active_until - timedelta(microseconds=1), zone)
    return first, last


def _reward_changes(form: Mapping[str, str], zone: str) -> dict[str, Any]:
    """The editor as the API's ``PATCH /rewards/{id}`` body."""
    changes: dict[str, Any] = {
        "name": form.get("name", "").strip(),
        "description": form.get("description", "").strip() or None,
        "points": whole(form.get("points", ""), "points"),
    }
    for key in ("stock", "per_customer_limit", "coupon_valid_days"):
        text = form.get(key, "").strip()
        changes[key] = None if not text else whole(text, key)
    return changes | _offer_dates(form, zone)


def _offer_dates(form: Mapping[str, str], zone: str) -> dict[str, Any]:
    """``active_from``/``active_until`` (days, both included) as the API's moments: the
    start of the first day and the end of the last, in the merchant's time zone."""
    dates: dict[str, Any] = {}
    for key, after in (("active_from", 0), ("active_until", 1)):
        text = form.get(key, "").strip()
        if not text:
            dates[key] = None
            continue
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise ValidationError("must be a date such as 2026-12-24", field=key) from None
        dates[key] = local_midnight(day + timedelta(days=after), zone).isoformat()
    return dates


def _page(
    merchant_id: str,
    *,
    values: Mapping[str, str] | None = None,
    reward: Mapping[str, str] | None = None,
    credit: Mapping[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    session = get_session()
    current = settings.merchant_settings(session, merchant_id)
    return render_template(
        "admin/spending/page.html",
        page_title="Spending",
        values=values if values is not None else _settings_form(current),
        current=current,
        reward=reward or {},
        credit_form=credit,
        credit_values=credit if credit is not None else _credit_form(current),
        # Only merchants with a store credit wallet spend credit.
        show_credit=bool(settings.credit_wallet(current)),
        rewards=rewards.list_rewards(session, merchant_id=merchant_id, limit=REWARDS_SHOWN),
        now=utcnow(),
        zone=get_merchant(session, merchant_id).timezone,
        offer_days=offer_days,
        currency=get_merchant(session, merchant_id).currency,
        errors=errors or {},
        may_edit=access.current().may(StaffRole.MANAGER),
    ), status


def _settings_form(current: Any) -> dict[str, str]:
    """The stored settings as the form shows them."""
    shown: dict[str, str] = {}
    for key in WHOLE + LIMITS:
        value = getattr(current, key)
        shown[key] = "" if value is None else str(value)
    for key in AMOUNTS:
        shown[key] = _decimal_text(getattr(current, key))
    shown["coupon_packages"] = "\n".join(
        f"{p['points']} = {_decimal_text(Decimal(str(p['amount'])))}"
        for p in current.coupon_packages or ()
    )
    for key in FLAGS:
        shown[key] = "1" if getattr(current, key) else ""
    return shown


def _credit_form(current: Any) -> dict[str, str]:
    """The stored store credit settings as the form shows them (empty points: off)."""
    shown = {key: _decimal_text(getattr(current, key)) for key in CREDIT_AMOUNTS}
    points = current.points_to_credit_points
    shown["points_to_credit_points"] = "" if points is None else str(points)
    shown["credit_coupons"] = "1" if current.credit_coupons else ""
    return shown


def _credit_args(form: Mapping[str, str]) -> dict[str, Any]:
    """The store credit form as the API's JSON body: no points means no conversion."""
    text = form.get("points_to_credit_points", "").strip()
    args: dict[str, Any] = {
        "credit_max_invoice_share": form.get("credit_max_invoice_share", "").strip(),
        "credit_coupons": form.get("credit_coupons") == "1",
        "points_to_credit_points": whole(text, "points_to_credit_points") if text else None,
    }
    amount = form.get("points_to_credit_amount", "").strip()
    # With conversion off an empty amount keeps the stored one (the API requires a value).
    if amount or text:
        args["points_to_credit_amount"] = amount
    return args


def _decimal_text(value: Decimal) -> str:
    number = Decimal(str(value))
    cents = number.quantize(Decimal("0.01"))
    return format(cents if cents == number else number.normalize(), "f")


def _settings_args(form: Mapping[str, str]) -> dict[str, Any]:
    """The form as the API's JSON body: numbers as numbers, empty limits as ``null``."""
    args: dict[str, Any] = {}
    for key in WHOLE:
        args[key] = whole(form.get(key, ""), key)
    for key in LIMITS:
        text = form.get(key, "").strip()
        args[key] = None if not text else whole(text, key)
    for key in AMOUNTS:
        args[key] = form.get(key, "").strip()
    for key in FLAGS:
        args[key] = form.get(key) == "1"
    args["coupon_packages"] = _packages(form.get("coupon_packages", ""))
    return args


def _reward_args(form: Mapping[str, str], merchant: Any) -> dict[str, Any]:
    kind = form.get("kind", "amount")
    args: dict[str, Any] = {
        "name": form.get("name", "").strip(),
        "description": form.get("description", "").strip() or None,
        "points": whole(form.get("points", ""), "points"),
        "kind": kind,
    }
    if kind == CouponKind.PERCENT:
        args["percent"] = form.get("percent", "").strip() or None
    else:
        args["amount"] = form.get("amount", "").strip() or None
        args["currency"] = merchant.currency
    for key in ("stock", "per_customer_limit", "coupon_valid_days"):
        text = form.get(key, "").strip()
        args[key] = None if not text else whole(text, key)
    return args | _offer_dates(form, merchant.timezone)


def _packages(text: str) -> list[dict[str, Any]]:
    """``500 = 5.00`` per line: a package of 500 points for a coupon of 5.00."""
    packages = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        points, sep, amount = line.partition("=")
        if not sep:
            raise ValidationError(
                f"line {number}: write points = amount, e.g. 500 = 5.00", field="coupon_packages"
            )
        packages.append({"points": whole(points, "coupon_packages"), "amount": amount.strip()})
    return packages


def whole(text: str, field: str) -> int:
    """A whole number of the form, or the field's error."""
    text = text.strip()
    if text.lstrip("-").isascii() and text.lstrip("-").isdigit() and len(text) < 19:
        return int(text)
    if not text:
        raise ValidationError("is required", field=field)
    raise ValidationError("must be a whole number", field=field)


def load_args(schema: Schema, args: dict[str, Any]) -> dict[str, Any]:
    """The API's validation of ``args``: the first message becomes the field's error."""
    try:
        return schema.load(args)
    except SchemaError as error:
        field, message = _first(error.messages)
        raise ValidationError(sentence(message), field=field) from None


def _first(messages: Any, field: str = "form") -> tuple[str, str]:
    if isinstance(messages, dict):
        key, value = next(iter(messages.items()))
        name = field if isinstance(key, int) or key == "_schema" else str(key)
        return _first(value, name)
    if isinstance(messages, list) and messages:
        return _first(messages[0], field)
    return field, str(messages)
