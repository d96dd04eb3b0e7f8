"""The audit trail's query arguments and answers (``GET /api/v1/audit``)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from loyalty_plugin.schemas.api import Cursor, MerchantArgsSchema, PageSchema, Text
from loyalty_plugin.services.audit import ACTOR_KINDS, MAX_PAGE


class AuditFilterArgsSchema(MerchantArgsSchema):
    """Which rows: each argument given narrows the search (days: none means all)."""

    actor = Text(1, 200, metadata={
        "description": "`kind:id` exactly (`staff:12`, `api_key:lk_ab12cd34`, `cli:root`), "
                       "or part of the actor's name or id",
    })  # fmt: skip
    action = Text(1, 64, metadata={
        "description": "an action (`adjustment.approved`), or a thing (`adjustment`) for all "
                       "of its actions",
    })  # fmt: skip
    target_type = Text(1, 64, metadata={"description": "`customer`, `program`, `api_key`, ..."})
    target_id = Text(1, 128, metadata={"description": "the target's id (a host customer id, ...)"})
    first = fields.Date(data_key="from", metadata={"description": "first day (merchant's zone)"})
    last = fields.Date(data_key="to", metadata={"description": "last day, included"})


class AuditArgsSchema(AuditFilterArgsSchema):
    cursor = Cursor(metadata={"description": "``next_cursor`` of the previous page"})
    limit = fields.Integer(load_default=50, validate=validate.Range(1, MAX_PAGE))


class AuditActorSchema(Schema):
    kind = fields.String(attribute="actor_kind", metadata={"enum": list(ACTOR_KINDS)})
    id = fields.String(attribute="actor_id")
    name = fields.String(attribute="actor_name")


class AuditTargetSchema(Schema):
    type = fields.String(attribute="target_type")
    id = fields.String(attribute="target_id")


class AuditEntrySchema(Schema):
    """One change: who, when, what, and the changed thing's fields before and after."""

    id = fields.Integer()
    occurred_at = fields.DateTime()
    actor = fields.Function(lambda e: AuditActorSchema().dump(e))
    action = fields.String(metadata={"example": "adjustment.approved"})
    target = fields.Function(lambda e: AuditTargetSchema().dump(e))
    before = fields.Dict(allow_none=True, metadata={"description": "null when created"})
    after = fields.Dict(allow_none=True, metadata={"description": "null when removed"})
    request_id = fields.String(allow_none=True, metadata={"description": "X-Request-Id"})
    address = fields.String(allow_none=True, metadata={"description": "the client's address"})


class AuditPageSchema(PageSchema):
    data = fields.List(fields.Nested(AuditEntrySchema))
