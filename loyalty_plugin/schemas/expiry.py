"""The API's shapes of a merchant's expiry policy, its preview and its e-mail switches."""

from __future__ import annotations

import dataclasses
from typing import Any

from marshmallow import Schema, fields, validate

from loyalty_plugin.domain.expiry import ExpiryKind, ExpiryPolicy
from loyalty_plugin.domain.notifications import Message
from loyalty_plugin.schemas.api import MerchantArgsSchema


class ExpiryPolicyArgsSchema(MerchantArgsSchema):
    """The whole policy (``PUT``): what is left out takes its default."""

    kind = fields.Enum(ExpiryKind, by_value=True, required=True)
    days = fields.Integer(strict=True, allow_none=True, load_default=None)
    extra_months = fields.Integer(strict=True, load_default=0)
    fixed_date = fields.Date(allow_none=True, load_default=None)
    inactivity_months = fields.Integer(strict=True, allow_none=True, load_default=None)
    reminder_days = fields.List(
        fields.Integer(strict=True),
        load_default=lambda: [30, 7],
        validate=validate.Length(0, 10),
        metadata={"description": "days before expiry at which customers are reminded"},
    )


class ExpiryPolicySchema(Schema):
    kind = fields.String()
    days = fields.Integer(allow_none=True)
    extra_months = fields.Integer()
    fixed_date = fields.Date(allow_none=True)
    inactivity_months = fields.Integer(allow_none=True)
    reminder_days = fields.List(fields.Integer())


class ExpiryPreviewArgsSchema(MerchantArgsSchema):
    at = fields.AwareDateTime(metadata={"description": "when the run would be (default: now)"})


class ExpiryPreviewSchema(Schema):
    at = fields.DateTime()
    points = fields.Integer()
    customers = fields.Integer()
    lots = fields.Integer()
    idle_points = fields.Integer(metadata={"description": "of which, for inactivity"})
    idle_customers = fields.Integer()


class EmailSwitchesArgsSchema(MerchantArgsSchema):
    """Which e-mails the merchant sends (``PATCH``: the ones named change)."""

    enabled = fields.Dict(
        keys=fields.String(validate=validate.OneOf([m.value for m in Message])),
        values=fields.Boolean(),
        load_default=dict,
        metadata={"description": "message name: on or off"},
    )
    coupon_reminder_days = fields.Integer(strict=True)


class EmailSwitchesSchema(Schema):
    enabled = fields.Dict(keys=fields.String(), values=fields.Boolean())
    coupon_reminder_days = fields.Integer()


def switches_document(prefs: Any) -> dict[str, Any]:
    """``{"enabled": {message: bool}, "coupon_reminder_days": n}`` of notification prefs."""
    return {
        "enabled": {m.value: prefs.enabled(m) for m in Message},
        "coupon_reminder_days": prefs.coupon_reminder_days,
    }


def policy_of(args: dict[str, Any]) -> ExpiryPolicy:
    """The policy of loaded :class:`ExpiryPolicyArgsSchema` arguments (checked by the domain)."""
    return ExpiryPolicy(
        kind=args["kind"],
        days=args.get("days"),
        extra_months=args.get("extra_months", 0),
        fixed_date=args.get("fixed_date"),
        inactivity_months=args.get("inactivity_months"),
        reminder_days=tuple(sorted(set(args.get("reminder_days", ())), reverse=True)),
    )


def switched(prefs: Any, args: dict[str, Any]) -> Any:
    """``prefs`` with the e-mails of ``args["enabled"]`` and its coupon reminder days."""
    disabled = set(prefs.disabled)
    for name, on in args.get("enabled", {}).items():
        (disabled.discard if on else disabled.add)(Message(name))
    return dataclasses.replace(
        prefs,
        disabled=frozenset(disabled),
        coupon_reminder_days=args.get("coupon_reminder_days", prefs.coupon_reminder_days),
    )
