"""The reports' query arguments and answers: dashboard, journal, aging (exports are CSV)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from loyalty_plugin.domain.ledger import EntryKind
from loyalty_plugin.domain.reports import MAX_DAYS
from loyalty_plugin.schemas.api import (
    Cursor,
    MerchantArgsSchema,
    MoneyField,
    PageSchema,
    Text,
    encode_cursor,
)
from loyalty_plugin.services.reports.aging import AgingBy
from loyalty_plugin.services.reports.journal import MAX_PAGE_SIZE, PAGE_SIZE

_RATE = {"description": "four decimal places; null when nothing was issued", "example": "0.25"}

# -- arguments ---------------------------------------------------------------------------


class PeriodArgsSchema(MerchantArgsSchema):
    """A period of the merchant's calendar days (its time zone), both days included."""

    first = fields.Date(
        data_key="from",
        metadata={"description": "first day; default: Monday eleven weeks before `to`"},
    )
    last = fields.Date(
        data_key="to",
        metadata={"description": f"last day, included; default: today (at most {MAX_DAYS} days)"},
    )


class JournalFilterArgsSchema(PeriodArgsSchema):
    """Which entries: each argument given narrows the journal (days: none means all)."""

    kind = fields.String(validate=validate.OneOf([k.value for k in EntryKind]))
    customer_id = Text(1, 64, metadata={"description": "the host's customer id"})
    card = Text(1, 64, metadata={"description": "the customer's card number"})
    group = Text(1, 64, metadata={"description": "the host's customer group"})
    program = Text(1, 64, metadata={"description": "a program's key"})


class JournalArgsSchema(JournalFilterArgsSchema):
    cursor = Cursor(metadata={"description": "``next_cursor`` of the previous page"})
    limit = fields.Integer(load_default=PAGE_SIZE, validate=validate.Range(1, MAX_PAGE_SIZE))


class AgingArgsSchema(MerchantArgsSchema):
    by = fields.String(
        load_default=AgingBy.GROUP.value,
        validate=validate.OneOf([b.value for b in AgingBy]),
        metadata={"description": "one row per customer group, customer or card"},
    )
    page = fields.Integer(load_default=1, validate=validate.Range(1, 1_000_000))


# -- answers -----------------------------------------------------------------------------


class PeriodSchema(Schema):
    first = fields.Date(data_key="from")
    last = fields.Date(data_key="to")
    zone = fields.String(data_key="timezone", metadata={"example": "Europe/Madrid"})


class WeekSchema(Schema):
    monday = fields.Date(data_key="week", metadata={"description": "the week's Monday"})
    first = fields.Date(data_key="from", metadata={"description": "its first day in the period"})
    issued = fields.Integer()
    redeemed = fields.Integer()
    expired = fields.Integer()
    corrections = fields.Integer(metadata={"description": "reversals and debits, signed"})


class LiabilitySchema(Schema):
    currency = fields.String()
    points = fields.Integer(metadata={"description": "open points (not past their expiry)"})
    value = MoneyField(metadata={"description": "at the merchant's point value"})


class CreditLiabilitySchema(Schema):
    currency = fields.String()
    amount = MoneyField(metadata={"description": "outstanding store credit, at face value"})
    lots = fields.Integer(metadata={"description": "credit lots holding it"})


class RepeatOrdersSchema(Schema):
    customers = fields.Function(lambda r: "members" if r.members else "non_members")
    with_orders = fields.Integer(attribute="customers")
    with_repeat_orders = fields.Integer(attribute="repeat")
    rate = fields.Decimal(as_string=True, allow_none=True, metadata=_RATE)


class TopCustomerSchema(Schema):
    customer_id = fields.String()
    name = fields.String()
    issued = fields.Integer(metadata={"description": "points issued in the period"})
    balance = fields.Integer()


class DashboardSchema(Schema):
    """Every figure of the dashboard (docs/admin.md defines each)."""

    merchant_id = fields.String()
    period = fields.Nested(PeriodSchema)
    weeks = fields.List(fields.Nested(WeekSchema))
    totals = fields.Method("_totals")
    redemption_rate = fields.Decimal(as_string=True, allow_none=True, metadata=_RATE)
    breakage = fields.Decimal(as_string=True, allow_none=True, metadata=_RATE)
    liability = fields.List(fields.Nested(LiabilitySchema))
    credit = fields.List(
        fields.Nested(CreditLiabilitySchema),
        metadata={"description": "store credit per currency (#19); empty for points only"},
    )
    expiring = fields.Method("_expiring")
    repeat_orders = fields.List(fields.Nested(RepeatOrdersSchema))
    top_customers = fields.List(fields.Nested(TopCustomerSchema))

    def _totals(self, report: Any) -> dict[str, int]:
        return {s: report.total(s) for s in ("issued", "redeemed", "expired", "corrections")}

    def _expiring(self, report: Any) -> list[dict[str, int]]:
        return [
            {"within_days": d, "points": p, "value": str(report.value_of(p))}
            for d, p in report.expiring.items()
        ]


class JournalEntrySchema(Schema):
    id = fields.Integer()
    created_at = fields.DateTime()
    kind = fields.String()
    points = fields.Integer()
    balance_after = fields.Integer()
    customer_id = fields.String()
    customer_name = fields.String()
    card = fields.String(allow_none=True)
    group = fields.String(allow_none=True)
    program = fields.String(allow_none=True)
    reference = fields.Method("_reference", allow_none=True)
    amount = MoneyField(allow_none=True)
    currency = fields.String(allow_none=True)
    actor = fields.String()
    reason = fields.String(allow_none=True)

    def _reference(self, row: Any) -> dict[str, str] | None:
        if row.reference_type is None:
            return None
        return {"type": row.reference_type, "id": row.reference_id}


class JournalPageSchema(PageSchema):
    data = fields.List(
        fields.Nested(JournalEntrySchema),
        attribute="rows",
        metadata={"description": "newest first"},
    )
    next_cursor = fields.Function(
        lambda page: encode_cursor(page.next_before) if page.next_before else None,
        allow_none=True,
        metadata={"description": "null on the last page"},
    )


class AgingRowSchema(Schema):
    key = fields.String(allow_none=True, metadata={"description": "group, customer id or card"})
    name = fields.String(allow_none=True)
    total = fields.Integer()
    bands = fields.List(fields.Integer(), metadata={"description": "per `bands` label"})
    expiry = fields.List(fields.Integer(), metadata={"description": "per `expiry_columns`"})


class AgingSchema(Schema):
    """Open points by age band and expiry month, totals first, then one page of rows."""

    by = fields.String()
    at = fields.DateTime(attribute="now")
    bands = fields.List(fields.String(), metadata={"example": ["0-30", "31-90"]})
    expiry_columns = fields.Function(lambda r: [*r.months, "later", "never"])
    totals = fields.Nested(AgingRowSchema)
    rows = fields.List(fields.Nested(AgingRowSchema))
    page = fields.Integer()
    pages = fields.Integer()
    row_count = fields.Integer()
