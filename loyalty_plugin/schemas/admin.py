"""Bodies of the API routes that open the admin pages (``POST /admin-links``)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from loyalty_plugin.models import StaffRole
from loyalty_plugin.schemas.api import MerchantArgsSchema, Text


class AdminLinkArgsSchema(MerchantArgsSchema):
    host_user_id = Text(1, 64, required=True, metadata={"description": "the host's user id"})
    name = Text(1, 200, required=True, metadata={"description": "the staff member's name"})
    email = Text(3, 254, required=True, metadata={"description": "their e-mail address"})
    role = fields.String(
        required=True,
        validate=validate.OneOf([role.value for role in StaffRole]),
        metadata={"description": "staff, manager or owner: their role at the merchant"},
    )
    valid_seconds = fields.Integer(
        strict=True,
        load_default=120,
        validate=validate.Range(10, 900),
        metadata={"description": "how long the link works (default 120, at most 900)"},
    )


class AdminLinkSchema(Schema):
    url = fields.String(metadata={"description": "opens the admin pages, signed in; works once"})
    expires_at = fields.DateTime()
    merchant_id = fields.String()
    host_user_id = fields.String()
    email = fields.String()
    role = fields.String()
