"""The jobs and the e-mail outbox through the API (``/api/v1/jobs``, ``/api/v1/emails``)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from loyalty_plugin.models import EmailStatus, RunStatus
from loyalty_plugin.schemas.api import Cursor, MerchantArgsSchema, PageSchema
from loyalty_plugin.services.messaging.email_outbox import MAX_PAGE


class JobRunSchema(Schema):
    """One run that did the merchant's work; counts and errors only for its own runs."""

    id = fields.Integer()
    trigger = fields.String(metadata={"enum": ["schedule", "manual"]})
    status = fields.Function(
        lambda r: r.status.value, metadata={"enum": [s.value for s in RunStatus]}
    )
    started_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)
    for_merchant = fields.Function(
        lambda r: r.merchant_id is not None,
        metadata={"description": "true: a run for this merchant alone; false: for all of them"},
    )
    rows = fields.Function(
        lambda r: r.rows if r.merchant_id is not None else None,
        allow_none=True,
        metadata={"description": "what the run did (null on runs for every merchant)"},
    )
    error = fields.Function(
        lambda r: r.error if r.merchant_id is not None else None, allow_none=True
    )
    started_by = fields.Function(
        lambda r: r.started_by if r.merchant_id is not None else None, allow_none=True
    )


class JobSchema(Schema):
    name = fields.String(metadata={"example": "expire-points"})
    description = fields.String()
    schedule = fields.String(metadata={"example": "every 1h (+5m)"})
    enabled = fields.Boolean()
    per_merchant = fields.Boolean(
        metadata={"description": "whether run-now may do one merchant's share"}
    )
    next_run = fields.DateTime(allow_none=True)
    runs = fields.List(fields.Nested(JobRunSchema), metadata={"description": "newest first"})


class JobListSchema(Schema):
    data = fields.List(fields.Nested(JobSchema))


class JobOutcomeSchema(Schema):
    job = fields.String()
    status = fields.String(metadata={"enum": ["succeeded", "failed", "skipped"]})
    run_id = fields.Integer(allow_none=True)
    rows = fields.Integer()
    seconds = fields.Float()
    detail = fields.String(allow_none=True, metadata={"description": "the error, or why skipped"})


class EmailArgsSchema(MerchantArgsSchema):
    status = fields.String(validate=validate.OneOf([s.value for s in EmailStatus]))
    cursor = Cursor(metadata={"description": "``next_cursor`` of the previous page"})
    limit = fields.Integer(load_default=50, validate=validate.Range(1, MAX_PAGE))


class EmailSchema(Schema):
    id = fields.Integer()
    to = fields.String(attribute="to_address", allow_none=True)
    sms_to = fields.String(allow_none=True)
    type = fields.String(attribute="template", metadata={"example": "points_expiring"})
    status = fields.Function(
        lambda e: e.status.value, metadata={"enum": [s.value for s in EmailStatus]}
    )
    attempts = fields.Integer()
    last_error = fields.String(allow_none=True)
    created_at = fields.DateTime()
    next_attempt_at = fields.DateTime()
    sent_at = fields.DateTime(allow_none=True)
    subject = fields.String(
        allow_none=True, metadata={"description": "null until rendered for sending"}
    )


class EmailPageSchema(PageSchema):
    data = fields.List(fields.Nested(EmailSchema))
