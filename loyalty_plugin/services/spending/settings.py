"""A merchant's spending settings, read as domain rules and changed with checks."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from loyalty_plugin.domain.coupons import CouponRules, Package
from loyalty_plugin.domain.credit import parse_wallet
from loyalty_plugin.domain.embedding import parse_origins
from loyalty_plugin.domain.errors import ValidationError
from loyalty_plugin.domain.redemption import (
    MAX_AMOUNT,
    PointValue,
    RedemptionMode,
    RedemptionRules,
)
from loyalty_plugin.models import MerchantSettings
from loyalty_plugin.services.audit import Actor, as_actor, record_change
from loyalty_plugin.services.ledger.accounts import get_merchant

#: Settings that may be changed (every column but the bookkeeping ones).
EDITABLE = frozenset(c.key for c in MerchantSettings.__table__.columns) - {
    "merchant_id",
    "updated_at",
    "updated_by",
}


def merchant_settings(session: Session, merchant_id: str) -> MerchantSettings:
    """The merchant's settings row, or an unsaved one holding the defaults."""
    row = session.get(MerchantSettings, merchant_id)
    if row is not None:
        return row
    get_merchant(session, merchant_id)
    return MerchantSettings(merchant_id=merchant_id, **default_settings())


def default_settings() -> dict[str, Any]:
    """Every editable setting at its default (``None`` where a limit is off by default)."""
    values: dict[str, Any] = {}
    for column in MerchantSettings.__table__.columns:
        if column.key not in EDITABLE:
            continue
        default = column.default.arg if column.default is not None else None  # type: ignore[attr-defined]
        values[column.key] = default(None) if callable(default) else default
    return values


def redemption_rules(settings: MerchantSettings) -> RedemptionRules:
    """The redemption rules the settings describe."""
    return RedemptionRules(
        value=PointValue(points=settings.conversion_points, amount=settings.conversion_amount),
        min_points=settings.min_redeem_points,
        max_share_percent=settings.max_invoice_share,
        max_points_per_invoice=settings.max_points_per_invoice,
        excluded_products=frozenset(settings.excluded_product_ids or ()),
        excluded_categories=frozenset(settings.excluded_category_ids or ()),
        pay_tax=settings.pay_tax_with_points,
        pay_shipping=settings.pay_shipping_with_points,
        mode=RedemptionMode(settings.redemption_mode),
    )


def credit_wallet(settings: MerchantSettings) -> list[str]:
    """The currencies the merchant's store credit wallet takes (empty: points only)."""
    return list(settings.credit_currencies or ())


def coupon_rules(settings: MerchantSettings) -> CouponRules:
    """The points-to-coupon rules the settings describe."""
    return CouponRules(
        rate_points=settings.coupon_points,
        rate_amount=settings.coupon_amount,
        packages=tuple(
            Package(points=p["points"], amount=Decimal(str(p["amount"])))
            for p in settings.coupon_packages or ()
        ),
        min_points=settings.coupon_min_points,
        valid_days=settings.coupon_valid_days,
        valid_until=settings.coupon_valid_until,
        product_ids=tuple(settings.coupon_product_ids or ()),
        category_ids=tuple(settings.coupon_category_ids or ()),
        refund_on_expiry=settings.coupon_refund_on_expiry,
    )


def update_settings(
    session: Session,
    *,
    merchant_id: str,
    changes: dict[str, Any],
    now: datetime,
    actor: Actor | str,
) -> MerchantSettings:
    """Change some settings; the result must still make valid rules, or nothing changes.

    Audited as ``settings.updated`` with the settings that changed, before and after.
    """
    actor = as_actor(actor)
    unknown = set(changes) - EDITABLE
    if unknown:
        name = sorted(unknown)[0]
        raise ValidationError(f"unknown setting {name!r}", field=name)
    settings = merchant_settings(session, merchant_id)
    before = {key: getattr(settings, key) for key in changes}
    for key, value in changes.items():
        setattr(settings, key, value)
    try:
        _check(settings)
    except ValidationError:
        for key, value in before.items():
            setattr(settings, key, value)
        raise
    settings.updated_at = now
    settings.updated_by = actor.label
    session.add(settings)
    session.flush()
    # Only what changed: 40 and the stored 40.0000 are the same setting.
    changed = [key for key in changes if getattr(settings, key) != before[key]]
    if changed:
        record_change(
            session,
            merchant_id=merchant_id,
            actor=actor,
            action="settings.updated",
            target_type="settings",
            target_id=merchant_id,
            before={key: before[key] for key in changed},
            after={key: getattr(settings, key) for key in changed},
            now=now,
        )
    return settings


def _check(settings: MerchantSettings) -> None:
    """Refuse settings that would make no sense (a share above 100 %, a bad mode...)."""
    try:
        redemption_rules(settings)
        coupon_rules(settings)
    except (ValueError, KeyError, TypeError) as error:
        raise ValidationError(f"invalid settings: {error}", field="settings") from None
    if not 0 < settings.coupon_amount <= MAX_AMOUNT:
        raise ValidationError(f"above 0 and at most {MAX_AMOUNT}", field="coupon_amount")
    if not 0 <= settings.max_invoice_share <= 100:
        raise ValidationError("a share is between 0 and 100", field="max_invoice_share")
    if settings.points_to_credit_points is not None and settings.points_to_credit_points < 1:
        raise ValidationError("at least 1 (or null: not allowed)", field="points_to_credit_points")
    if not 0 < settings.points_to_credit_amount <= MAX_AMOUNT:
        raise ValidationError(f"above 0 and at most {MAX_AMOUNT}", field="points_to_credit_amount")
    if not 0 <= settings.credit_max_invoice_share <= 100:
        raise ValidationError("a share is between 0 and 100", field="credit_max_invoice_share")
    if settings.waiting_report_hours < 1:
        raise ValidationError("at least 1 hour", field="waiting_report_hours")
    # Normalised here, so the API, the admin page and the portal's header see one form.
    settings.portal_frame_ancestors = parse_origins(settings.portal_frame_ancestors)
    settings.credit_currencies = parse_wallet(settings.credit_currencies)
    if settings.hold_minutes < 1:
        raise ValidationError("holds last at least a minute", field="hold_minutes")
    for key in ("min_redeem_points", "coupon_min_points"):
        if getattr(settings, key) < 0:
            raise ValidationError("must not be negative", field=key)
    for key in ("max_points_per_invoice", "adjustment_approval_above", "coupon_valid_days"):
        value = getattr(settings, key)
        if value is not None and value < 1:
            raise ValidationError("must be at least 1 (or null for no limit)", field=key)
