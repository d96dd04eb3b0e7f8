"""The import endpoints' query arguments and reports (the body is CSV, not JSON)."""

from __future__ import annotations

from marshmallow import Schema, fields

from loyalty_plugin.schemas.api import MerchantArgsSchema


class ImportArgsSchema(MerchantArgsSchema):
    """Which merchant, and whether only to check the file."""

    dry_run = fields.Boolean(
        load_default=False,
        metadata={"description": "check every row and report the bad ones; import nothing"},
    )


class RowErrorSchema(Schema):
    """One refused cell: the file line (1 is the header), the column, why."""

    line = fields.Integer()
    field = fields.String()
    message = fields.String()


class _ReportSchema(Schema):
    dry_run = fields.Boolean()
    rows = fields.Integer(metadata={"description": "data rows read"})
    bad_rows = fields.Integer(metadata={"description": "rows refused"})
    error_count = fields.Integer(metadata={"description": "all errors, listed or not"})
    errors = fields.List(
        fields.Nested(RowErrorSchema), metadata={"description": "the first 1000 errors"}
    )


class CustomerImportReportSchema(_ReportSchema):
    """What a customers import did (or, in a dry run, would do)."""

    created = fields.Integer()
    updated = fields.Integer()
    unchanged = fields.Integer()


class BalanceImportReportSchema(_ReportSchema):
    """What an opening-balances import did (or, in a dry run, would do)."""

    customers = fields.Integer(metadata={"description": "opening balances written"})
    lots = fields.Integer()
    points = fields.Integer()
    already_imported = fields.Integer(metadata={"description": "the same balance was there"})
    customers_refused = fields.Integer()
