"""The JSON API's bodies: marshmallow schemas for what comes in and what goes out.

The OpenAPI document is generated from these same schemas. Money is a decimal string out
and a decimal string or JSON number in (parsed to ``Decimal``, never through float); points
are whole numbers; host ids are strings or integers (Perfex sends integers).
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC
from decimal import Decimal
from typing import Any

from marshmallow import (
    EXCLUDE,
    Schema,
    ValidationError,
    fields,
    post_dump,
    post_load,
    validate,
    validates_schema,
)

from loyalty_plugin.domain.coupons import CouponKind, CouponStatus, unusable_reason
from loyalty_plugin.domain.credit import MAX_CREDIT_EXPIRY_MONTHS
from loyalty_plugin.domain.errors import LoyaltyError
from loyalty_plugin.domain.money import check_currency, from_minor, parse_money
from loyalty_plugin.domain.redemption import DraftInvoice, DraftItem, RedemptionMode
from loyalty_plugin.models import AdjustmentStatus
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.schemas.common import AwareDateTime

MONEY_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"

# -- fields ----------------------------------------------------------------------------


class MoneyField(fields.String):
    """A ``Decimal`` amount: a decimal string or JSON number in, a decimal string out."""

    def __init__(self, *, minimum: Decimal | None = Decimal(0), **kwargs: Any) -> None:
        metadata = {"pattern": MONEY_PATTERN, "example": "10.00", **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)
        self.minimum = minimum

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        try:
            amount = parse_money(value)
        except LoyaltyError as error:
            raise ValidationError(error.message) from None
        if self.minimum is not None and amount < self.minimum:
            raise ValidationError(f"must be at least {self.minimum}")
        if abs(amount) >= Decimal(10) ** 15:
            raise ValidationError("is too large")
        return amount

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        # Amounts kept in JSON columns come back as strings (or integers), not Decimal.
        return None if value is None else format(Decimal(str(value)), "f")


class RateField(MoneyField):
    """A rate (a point's value, an exchange rate): exact, without trailing zeros (``0.01``)."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else format(Decimal(str(value)).normalize(), "f")


class SettingAmountField(MoneyField):
    """A setting's amount or percent, alike on every database: cents kept, other trailing
    zeros dropped (PostgreSQL's ``1.5000`` and SQLite's ``1.5`` are both ``1.50``)."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        if value is None:
            return None
        number = Decimal(str(value))
        cents = number.quantize(Decimal("0.01"))
        return format(cents if cents == number else number.normalize(), "f")


class HostId(fields.String):
    """The host's id of a customer, invoice, product...: a string or an integer."""

    def __init__(self, **kwargs: Any) -> None:
        metadata = {"description": "the host's id (a string; integers are accepted)"}
        metadata |= kwargs.pop("metadata", {})
        super().__init__(validate=validate.Length(1, 64), metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        return super()._deserialize(value, attr, data, **kwargs).strip()


class Currency(fields.String):
    """An ISO 4217 code."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(metadata={"example": "EUR", "pattern": "^[A-Za-z]{3}$"}, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        try:
            return check_currency(super()._deserialize(value, attr, data, **kwargs))
        except LoyaltyError as error:
            raise ValidationError(error.message) from None


def Points(**kwargs: Any) -> fields.Integer:
    """A positive whole number of points (``1.5`` and ``"10"`` are refused)."""
    return fields.Integer(strict=True, validate=validate.Range(1, 10**12), **kwargs)


def Text(low: int, high: int, **kwargs: Any) -> fields.String:
    """A string of ``low`` to ``high`` characters."""
    return fields.String(validate=validate.Length(low, high), **kwargs)


def When(**kwargs: Any) -> AwareDateTime:
    """An ISO 8601 date-time; one without an offset is taken as UTC."""
    return AwareDateTime(default_timezone=UTC, **kwargs)


def encode_cursor(row_id: int) -> str:
    """An opaque cursor for the next page, after the row ``row_id``."""
    return base64.urlsafe_b64encode(f"id:{row_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The row id inside a cursor, or a validation error naming ``cursor``."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        tag, _, number = text.partition(":")
        if tag != "id" or not number.isdigit() or int(number) > 2**62:
            raise ValueError(text)
        return int(number)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationError("not a cursor this API gave out") from None


class Cursor(fields.String):
    """A cursor from an earlier page's ``next_cursor``."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        return decode_cursor(super()._deserialize(value, attr, data, **kwargs))


# -- common ------------------------------------------------------------------------------


class ErrorBodySchema(Schema):
    code = fields.String(metadata={"example": "insufficient_points"})
    message = fields.String()
    fields_ = fields.Dict(
        data_key="fields",
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"description": "messages by field, e.g. {'points': ['must be above 0']}"},
    )


class ErrorSchema(Schema):
    """Every error: ``{"error": {"code", "message", "fields"}}``."""

    error = fields.Nested(ErrorBodySchema)


class MerchantArgsSchema(Schema):
    """Which merchant, for a key that covers several (optional otherwise)."""

    merchant_id = Text(1, 64, metadata={"description": "needed only by host keys"})


class PageArgsSchema(MerchantArgsSchema):
    cursor = Cursor(metadata={"description": "``next_cursor`` of the previous page"})
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))


class PageSchema(Schema):
    next_cursor = fields.String(allow_none=True, metadata={"description": "null on the last page"})


# -- customers and ledger ----------------------------------------------------------------


class LevelSummarySchema(Schema):
    program = fields.String()
    version = fields.Integer()
    level = fields.String(metadata={"example": "gold"})
    name = fields.String(metadata={"example": "Gold"})
    source = fields.String(metadata={"description": "earned, bought or given"})
    since = fields.DateTime(allow_none=True)
    qualifying_amount = MoneyField(metadata={"description": "money or points, per ``measure``"})
    measure = fields.String(metadata={"description": "money or points"})
    next_level = fields.String(allow_none=True)
    needed = MoneyField(allow_none=True, metadata={"description": "still needed for next_level"})
    review_at = fields.DateTime(allow_none=True)
    expires_at = fields.DateTime(
        allow_none=True, metadata={"description": "when a bought or given level ends"}
    )
    benefits = fields.Dict()


class LevelHistorySchema(Schema):
    id = fields.Integer()
    from_level = fields.String(allow_none=True)
    to_level = fields.String()
    reason = fields.String()
    actor = fields.String(metadata={"description": "who, or which job or event"})
    version = fields.Integer(metadata={"description": "the program version"})
    amount = MoneyField(allow_none=True, metadata={"description": "the qualifying amount"})
    details = fields.Dict()
    at = fields.DateTime()


class LevelHistoryPageSchema(Schema):
    data = fields.List(fields.Nested(LevelHistorySchema))


class BuyLevelArgsSchema(Schema):
    merchant_id = fields.String(load_default=None)
    level = fields.String(required=True, validate=validate.Length(1, 64))
    program = fields.String(load_default=None, metadata={"description": "default: the first"})


class PortalLinkArgsSchema(MerchantArgsSchema):
    valid_minutes = fields.Integer(
        strict=True,
        validate=validate.Range(1, 10**6),
        metadata={"description": "how long the link works; at most LOYALTY_PORTAL_LINK_DAYS"},
    )


class PortalLinkSchema(Schema):
    url = fields.String(metadata={"description": "opens the customer's portal; keep it private"})
    expires_at = fields.DateTime()
    merchant_id = fields.String()
    customer_id = fields.String()


class PortalLinkEmailSchema(Schema):
    email_id = fields.Integer(metadata={"description": "the e-mail in the outbox"})
    merchant_id = fields.String()
    customer_id = fields.String()
    to = fields.String(metadata={"description": "the customer's address on file"})
    queued_at = fields.DateTime(
        metadata={"description": "sent by the send-emails job, every 30 seconds"}
    )


class GiveLevelArgsSchema(BuyLevelArgsSchema):
    until = AwareDateTime(required=True, metadata={"description": "when it ends"})
    reason = fields.String(required=True, validate=validate.Length(1, 200))


class CreditStandingSchema(Schema):
    """Store credit in one currency (issue #19): money as decimal strings."""

    currency = fields.String(metadata={"description": "ISO 4217"})
    balance = fields.Decimal(
        as_string=True, metadata={"description": "credit held, pending included"}
    )
    available = fields.Decimal(as_string=True, metadata={"description": "credit spendable now"})
    pending = fields.Decimal(as_string=True)
    lifetime_earned = fields.Decimal(as_string=True)
    lifetime_redeemed = fields.Decimal(as_string=True)
    owed = fields.Decimal(as_string=True, metadata={"description": "taken back after it was spent"})


class StandingSchema(Schema):
    merchant_id = fields.String()
    balance = fields.Integer(metadata={"description": "points in the account, pending included"})
    available = fields.Integer(metadata={"description": "points spendable now"})
    pending = fields.Integer()
    held = fields.Integer(metadata={"description": "points held against open invoices"})
    lifetime_earned = fields.Integer()
    lifetime_redeemed = fields.Integer()
    lifetime_expired = fields.Integer()
    next_expiry_date = fields.Date(allow_none=True)
    next_expiry_points = fields.Integer()
    level = fields.Nested(LevelSummarySchema, allow_none=True)
    credit = fields.List(
        fields.Nested(CreditStandingSchema),
        metadata={"description": "store credit apart from points, one per currency; empty "
                  "for a points-only merchant"},
    )  # fmt: skip


class CustomerSchema(Schema):
    customer_id = fields.String()
    first_name = fields.String()
    last_name = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    enrolled = fields.Boolean()
    profile_pending = fields.Boolean(
        metadata={"description": "created on first sight; customer.created fills the profile"}
    )
    accounts = fields.List(fields.Nested(StandingSchema))


class CustomerSearchArgsSchema(MerchantArgsSchema):
    q = Text(
        0,
        100,
        load_default="",
        metadata={
            "description": "name or e-mail (by prefix, any case), phone, customer number, "
            "host id or card number (exactly); empty: every customer",
            "example": "ana sil",
        },
    )
    page = fields.Integer(load_default=1, validate=validate.Range(1, 4000))
    limit = fields.Integer(load_default=25, validate=validate.Range(1, 200))


class CustomerRowSchema(Schema):
    customer_id = fields.String(attribute="host_customer_id")
    customer_number = fields.String(allow_none=True)
    name = fields.String()
    email = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    card_number = fields.String(allow_none=True)
    enrolled = fields.Boolean()
    balance = fields.Integer()
    created_at = fields.DateTime()


class CustomerSearchPageSchema(Schema):
    data = fields.List(fields.Nested(CustomerRowSchema), attribute="rows")
    page = fields.Integer(metadata={"description": "past the last page: the last"})
    total = fields.Integer(metadata={"description": "how many customers match"})
    next_page = fields.Function(
        lambda r: r.page + 1 if r.has_next else None,
        metadata={"description": "null on the last page"},
    )


class LotTouchedSchema(Schema):
    lot_id = fields.Integer()
    points = fields.Integer(metadata={"description": "taken (negative) or put (positive)"})
    expires_at = fields.DateTime(allow_none=True)


class ReferenceSchema(Schema):
    type = fields.String(metadata={"example": "invoice"})
    id = fields.String()


class LedgerEntrySchema(Schema):
    id = fields.Integer(attribute="entry.id")
    kind = fields.String(attribute="entry.kind")
    points = fields.Integer(attribute="entry.points")
    balance_after = fields.Integer(attribute="entry.balance_after")
    amount = MoneyField(attribute="entry.amount", allow_none=True)
    currency = fields.String(attribute="entry.currency", allow_none=True)
    reference = fields.Method("_reference", allow_none=True)
    reason = fields.String(attribute="entry.reason", allow_none=True)
    actor = fields.String(attribute="entry.actor")
    details = fields.Dict(attribute="entry.details", allow_none=True)
    reverses_entry_id = fields.Integer(attribute="entry.reverses_entry_id", allow_none=True)
    created_at = fields.DateTime(attribute="entry.created_at")
    lots = fields.List(fields.Nested(LotTouchedSchema))

    def _reference(self, statement: Any) -> dict[str, str] | None:
        entry = statement.entry
        if entry.reference_type is None:
            return None
        return {"type": entry.reference_type, "id": entry.reference_id}


class LedgerPageSchema(PageSchema):
    data = fields.List(fields.Nested(LedgerEntrySchema))


# -- checkout and redemptions ------------------------------------------------------------


class DraftItemSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    id = HostId()
    product_id = HostId(allow_none=True)
    category_id = HostId(allow_none=True)
    total = MoneyField(required=True)


class DraftInvoiceSchema(Schema):
    """The invoice as the host has it (other invoice fields are accepted and ignored)."""

    class Meta:
        unknown = EXCLUDE

    id = HostId(metadata={"description": "required to hold points"})
    currency = Currency(required=True)
    exchange_rate = MoneyField(
        allow_none=True, metadata={"description": "to the merchant's currency"}
    )
    subtotal = MoneyField()
    discount_total = MoneyField(load_default=Decimal(0))
    tax_total = MoneyField(load_default=Decimal(0))
    shipping_total = MoneyField(load_default=Decimal(0))
    total = MoneyField(required=True)
    items = fields.List(fields.Nested(DraftItemSchema), load_default=list)

    @post_load
    def _draft(self, data: dict[str, Any], **_kwargs: Any) -> DraftInvoice:
        items = tuple(
            DraftItem(
                total=item["total"],
                product_id=item.get("product_id"),
                category_id=item.get("category_id"),
            )
            for item in data.pop("items")
        )
        if data.get("exchange_rate") is not None and data["exchange_rate"] <= 0:
            raise ValidationError("must be above 0", field_name="exchange_rate")
        return DraftInvoice(items=items, **data)


class QuoteArgsSchema(MerchantArgsSchema):
    customer_id = HostId(required=True)
    invoice = fields.Nested(DraftInvoiceSchema, required=True)
    points = fields.Integer(
        strict=True,
        validate=validate.Range(0, 10**12),
        metadata={"description": "points the customer wants to use (default: most; 0 only "
                  "with ``credit``, to pay with credit alone)"},
    )  # fmt: skip
    credit = MoneyField(
        metadata={
            "description": "store credit, in the invoice's currency, the customer wants to use "
            "(default: most); only for a merchant with a credit wallet"
        }
    )

    @validates_schema
    def _zero_points_only_with_credit(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if data.get("points") == 0 and "credit" not in data:
            raise ValidationError("must be at least 1 (0 only with credit)", field_name="points")


class QuotedValueSchema(Schema):
    points = fields.Integer()
    level = fields.String(
        allow_none=True, metadata={"description": "the level whose point value applies"}
    )
    rate = RateField(metadata={"description": "value of one of these points"})


class CreditOfferSchema(Schema):
    """Store credit offered on an invoice beside the points (issue #19)."""

    amount = MoneyField(attribute="credit", metadata={"description": "credit usable on it"})
    currency = fields.String(metadata={"description": "the invoice's currency"})
    balance = MoneyField(attribute="credit_balance", metadata={"description": "credit spendable"})
    bound_by = fields.String(
        attribute="credit_bound_by",
        metadata={
            "description": "what bound the credit: balance, credit_cap, max_share, "
            "eligible_amount, requested, or wallet (the wallet does not take the currency)"
        },
    )
    limits = fields.Dict(
        attribute="credit_limits", keys=fields.String(), values=MoneyField(),
        metadata={"description": "each cap on the credit, in money"},
    )  # fmt: skip
    total = MoneyField(metadata={"description": "credit and points together: the discount"})


class QuoteSchema(Schema):
    merchant_id = fields.String()
    customer_id = fields.String()
    points = fields.Integer(metadata={"description": "points usable on the invoice"})
    allowed = fields.Integer(metadata={"description": "what the caps allow whatever the balance"})
    amount = MoneyField(metadata={"description": "money value of ``points``"})
    currency = fields.String()
    rate = RateField(
        metadata={"description": "value of one point at the current level, in the invoice currency"}
    )
    exchange_rate = RateField()
    bound_by = fields.String(
        metadata={
            "description": "the cap that decided: balance, max_points_per_invoice, max_share, "
            "eligible_amount, requested or min_points"
        }
    )
    limits = fields.Dict(keys=fields.String(), values=fields.Integer(allow_none=True))
    eligible_amount = MoneyField()
    balance = fields.Integer()
    min_points = fields.Integer()
    values = fields.List(
        fields.Nested(QuotedValueSchema),
        metadata={
            "description": "the quoted points by value, in spending order: one row, or one "
            "per level earned at when points redeem at the level they were earned at"
        },
    )
    level = fields.Dict(
        allow_none=True,
        metadata={
            "description": "the customer's membership level: its discounts (applied by the "
            "host; ``discount_amount`` on this invoice), point value and maximum share"
        },
    )
    credit = fields.Nested(
        CreditOfferSchema,
        metadata={
            "description": "store credit offered first, the points after it within the caps on "
            "their sum; present only for a merchant with a credit wallet"
        },
    )


class HoldArgsSchema(QuoteArgsSchema):
    pass


class CaptureArgsSchema(Schema):
    invoice_id = HostId(metadata={"description": "checked against the hold's invoice if given"})


class ReleaseArgsSchema(Schema):
    reason = Text(1, 200)


class HeldCreditSchema(Schema):
    """Store credit one redemption takes, in one currency (issue #19)."""

    id = fields.Integer(metadata={"description": "this unit's row, part of the redemption"})
    currency = fields.String(attribute="unit")
    amount = MoneyField(attribute="money", metadata={"description": "the credit held or spent"})
    returned = MoneyField(
        attribute="returned_amount", metadata={"description": "given back by refunds"}
    )
    hold_entry_id = fields.Integer()


class RedemptionSchema(Schema):
    id = fields.Integer()
    merchant_id = fields.String()
    customer_id = fields.Function(lambda r: r.account.customer.host_customer_id)
    invoice_id = fields.String()
    status = fields.String(metadata={"description": "held, captured, released or expired"})
    points = fields.Integer(attribute="points_held")
    amount = MoneyField(
        attribute="discount",
        metadata={"description": "the discount to apply to the invoice: points and credit"},
    )
    currency = fields.String()
    rate = RateField(
        metadata={"description": "value of one point at the level held, in ``currency``"}
    )
    exchange_rate = RateField()
    returned_points = fields.Integer(
        attribute="points_returned", metadata={"description": "given back by refunds"}
    )
    hold_entry_id = fields.Integer(
        metadata={"description": "the hold entry of the points (of the credit without points)"}
    )
    values = fields.List(
        fields.Nested(QuotedValueSchema), metadata={"description": "the held points by value"}
    )
    expires_at = fields.DateTime()
    created_at = fields.DateTime()
    captured_at = fields.DateTime(allow_none=True)
    released_at = fields.DateTime(allow_none=True)
    credit = fields.List(
        fields.Nested(HeldCreditSchema),
        attribute="credit_parts",
        metadata={
            "description": "store credit the redemption takes, one per currency; present only "
            "when it takes credit"
        },
    )

    @post_dump
    def _credit_only_when_taken(self, data: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
        if not data.get("credit"):
            data.pop("credit", None)
        return data


# -- coupons and rewards -----------------------------------------------------------------


class CouponValueArgsSchema(Schema):
    kind = fields.Enum(CouponKind, by_value=True, required=True)
    amount = MoneyField(allow_none=True)
    currency = Currency(allow_none=True)
    percent = MoneyField(allow_none=True)
    product_ids = fields.List(HostId(), load_default=list)
    category_ids = fields.List(HostId(), load_default=list)


class CouponValueSchema(Schema):
    kind = fields.String()
    amount = MoneyField(allow_none=True)
    currency = fields.String(allow_none=True)
    percent = MoneyField(allow_none=True)
    product_ids = fields.List(fields.String())
    category_ids = fields.List(fields.String())


class CreditConversionArgsSchema(MerchantArgsSchema):
    customer_id = HostId(required=True)
    points = Points(required=True, metadata={"description": "points to turn into credit"})


class CreditConversionSchema(Schema):
    """Points turned into store credit (issue #19)."""

    customer_id = fields.Function(lambda c: c.points_account.customer.host_customer_id)
    points = fields.Integer(metadata={"description": "the points given"})
    credit = MoneyField(metadata={"description": "the store credit received"})
    currency = fields.String()
    points_entry_id = fields.Function(lambda c: c.points_entry.id)
    credit_entry_id = fields.Function(lambda c: c.credit_entry.id)
    balance = fields.Function(
        lambda c: c.points_account.balance, metadata={"description": "points after it"}
    )
    credit_balance = fields.Function(
        lambda c: str(from_minor(c.credit_account.balance, c.currency)),
        metadata={"description": "credit in the currency after it"},
    )


class CreateCouponArgsSchema(MerchantArgsSchema):
    customer_id = HostId(required=True)
    points = Points(metadata={"description": "points to turn into a coupon"})
    credit = MoneyField(
        metadata={
            "description": "or store credit to spend on a coupon of that value (when the "
            "merchant's credit_coupons allows it)"
        }
    )
    #: The credit's currency (default: the merchant's).
    currency = Currency()

    @validates_schema
    def _points_or_credit(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if "points" in data and "credit" in data:
            raise ValidationError("points or credit, not both", field_name="credit")
        if "points" not in data and "credit" not in data:
            raise ValidationError("Missing data for required field.", field_name="points")
        if "currency" in data and "credit" not in data:
            raise ValidationError("only with credit", field_name="currency")


class RedeemCouponArgsSchema(MerchantArgsSchema):
    invoice_id = HostId(metadata={"description": "cancelling this invoice restores the coupon"})
    customer_id = HostId(metadata={"description": "checked against the coupon's owner"})


class CancelCouponArgsSchema(MerchantArgsSchema):
    reason = Text(0, 200, metadata={"description": "why, kept in the ledger and audit trail"})


def _why_not(coupon: Any) -> str | None:
    """Why the coupon cannot be used right now (``None``: it can)."""
    return unusable_reason(coupon.status, expires_at=coupon.expires_at, now=utcnow())


class CouponSchema(CouponValueSchema):
    code = fields.String(metadata={"example": "K7QX-M2PD-9HTA"})
    status = fields.String(metadata={"description": "active, redeemed, expired or cancelled"})
    usable = fields.Function(lambda c: _why_not(c) is None, metadata={"type": "boolean"})
    unusable_reason = fields.Function(
        _why_not, allow_none=True, metadata={"type": "string", "nullable": True}
    )
    customer_id = fields.Function(
        lambda c: c.account.customer.host_customer_id if c.account else None, allow_none=True
    )
    points = fields.Integer(attribute="points_paid", allow_none=True)
    credit = fields.Dict(
        attribute="credit_paid",
        allow_none=True,
        metadata={
            "description": "store credit the coupon cost, ``{currency, amount}``; present only "
            "for a coupon bought with credit"
        },
    )
    expires_at = fields.DateTime(allow_none=True)
    redeemed_at = fields.DateTime(allow_none=True)
    redeemed_invoice_id = fields.String(allow_none=True)
    campaign_id = fields.Integer(allow_none=True)
    reward_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()

    @post_dump
    def _credit_only_when_paid(self, data: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
        if data.get("credit") is None:
            data.pop("credit", None)
        return data


class CouponListArgsSchema(PageArgsSchema):
    q = fields.String(
        validate=validate.Length(max=60),
        metadata={"description": "a whole code, or its start (case, spaces, dashes ignored)"},
    )
    customer_id = HostId()
    campaign_id = fields.Integer(validate=validate.Range(1, 2**62))
    status = fields.Enum(CouponStatus, by_value=True)


class CouponPageSchema(PageSchema):
    data = fields.List(fields.Nested(CouponSchema))


class CampaignArgsSchema(MerchantArgsSchema, CouponValueArgsSchema):
    name = Text(1, 200, required=True)
    count = fields.Integer(strict=True, required=True, validate=validate.Range(1, 5000))
    expires_at = When(allow_none=True)
    prefix = fields.String(
        load_default="",
        validate=validate.Regexp(r"^[A-Za-z0-9]{0,12}$"),
        metadata={"example": "SUMMER"},
    )


class CampaignSchema(CouponValueSchema):
    id = fields.Integer()
    name = fields.String()
    count = fields.Integer()
    expires_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    codes = fields.List(fields.String())


class MerchantUpdateArgsSchema(Schema):
    name = Text(1, 200)
    currency = fields.String(
        validate=validate.Length(3, 3),
        metadata={"description": "only while the merchant has no ledger entries (else 409)"},
    )
    timezone = Text(1, 64, metadata={"description": "an IANA zone, e.g. Europe/Lisbon"})
    locale = Text(2, 16, metadata={"description": "of e-mails, e.g. pt_PT"})


class MerchantSchema(Schema):
    id = fields.String()
    name = fields.String()
    currency = fields.String()
    timezone = fields.String()
    locale = fields.String()
    currency_changeable = fields.Boolean(
        metadata={"description": "false once the merchant has ledger entries"}
    )


class CampaignUpdateArgsSchema(Schema):
    name = Text(1, 200)
    expires_at = When(allow_none=True, metadata={"description": "its unused coupons move too"})


class CampaignCountsSchema(Schema):
    active = fields.Integer()
    redeemed = fields.Integer()
    expired = fields.Integer()
    cancelled = fields.Integer()


class CampaignSummarySchema(CouponValueSchema):
    id = fields.Function(lambda c: c.campaign.id, metadata={"type": "integer"})
    name = fields.Function(lambda c: c.campaign.name, metadata={"type": "string"})
    count = fields.Function(lambda c: c.campaign.count, metadata={"type": "integer"})
    expires_at = fields.Function(
        lambda c: c.campaign.expires_at.isoformat() if c.campaign.expires_at else None,
        allow_none=True,
        metadata={"type": "string", "format": "date-time", "nullable": True},
    )
    ended = fields.Function(
        lambda c: c.ended(utcnow()),
        metadata={"type": "boolean", "description": "its expiry has passed (ended or ran out)"},
    )
    coupons = fields.Function(
        lambda c: c.counts,
        metadata={"type": "object", "description": "its coupons by status"},
    )
    created_at = fields.Function(
        lambda c: c.campaign.created_at.isoformat(),
        metadata={"type": "string", "format": "date-time"},
    )

    def get_attribute(self, obj: Any, attr: str, default: Any) -> Any:
        """The value fields are the campaign's own."""
        return super().get_attribute(getattr(obj, "campaign", obj), attr, default)


class CampaignSummaryPageSchema(PageSchema):
    data = fields.List(fields.Nested(CampaignSummarySchema))


class RewardArgsSchema(MerchantArgsSchema, CouponValueArgsSchema):
    name = Text(1, 200, required=True)
    description = Text(0, 1000, allow_none=True)
    points = Points(required=True)
    stock = fields.Integer(strict=True, allow_none=True, validate=validate.Range(0, 10**9))
    per_customer_limit = fields.Integer(
        strict=True, allow_none=True, validate=validate.Range(1, 10**6)
    )
    coupon_valid_days = fields.Integer(
        strict=True, allow_none=True, validate=validate.Range(1, 3650)
    )
    active_from = When(allow_none=True, metadata={"description": "on offer from (included)"})
    active_until = When(allow_none=True, metadata={"description": "on offer until (excluded)"})


class RewardUpdateArgsSchema(Schema):
    name = Text(1, 200)
    description = Text(0, 1000, allow_none=True)
    points = Points()
    stock = fields.Integer(strict=True, allow_none=True, validate=validate.Range(0, 10**9))
    per_customer_limit = fields.Integer(
        strict=True, allow_none=True, validate=validate.Range(1, 10**6)
    )
    coupon_valid_days = fields.Integer(
        strict=True, allow_none=True, validate=validate.Range(1, 3650)
    )
    active = fields.Boolean()
    active_from = When(allow_none=True, metadata={"description": "on offer from (included)"})
    active_until = When(allow_none=True, metadata={"description": "on offer until (excluded)"})


class RewardSchema(CouponValueSchema):
    id = fields.Integer()
    name = fields.String()
    description = fields.String(allow_none=True)
    points = fields.Integer()
    stock = fields.Integer(allow_none=True)
    per_customer_limit = fields.Integer(allow_none=True)
    coupon_valid_days = fields.Integer(allow_none=True)
    active = fields.Boolean()
    active_from = fields.DateTime(allow_none=True)
    active_until = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class RewardListArgsSchema(PageArgsSchema):
    active = fields.Boolean(
        metadata={"description": "only rewards customers may buy now (offered, within dates)"}
    )


class RewardPageSchema(PageSchema):
    data = fields.List(fields.Nested(RewardSchema))


class PurchaseArgsSchema(MerchantArgsSchema):
    customer_id = HostId(required=True)


# -- adjustments -------------------------------------------------------------------------


class AdjustmentArgsSchema(MerchantArgsSchema):
    customer_id = HostId(required=True)
    points = fields.Integer(
        strict=True,
        required=True,
        validate=[validate.Range(-(10**12), 10**12), validate.NoneOf([0], error="must not be 0")],
        metadata={"description": "positive credits, negative debits"},
    )
    reason = Text(1, 400, required=True)
    staff = Text(1, 100, required=True, metadata={"description": "who asks for it"})
    expires_at = When(allow_none=True, metadata={"description": "expiry of a credit"})


class DecisionArgsSchema(Schema):
    staff = Text(1, 100, required=True, metadata={"description": "a second staff member"})
    note = Text(1, 400)


class ApprovalArgsSchema(DecisionArgsSchema):
    expires_at = When(
        metadata={
            "description": "a new expiry for a credit; required when the requested one has passed"
        }
    )


class AdjustmentSchema(Schema):
    id = fields.Integer()
    merchant_id = fields.String()
    customer_id = fields.Function(lambda a: a.account.customer.host_customer_id)
    points = fields.Integer()
    reason = fields.String()
    status = fields.String(metadata={"description": "pending, applied or rejected"})
    requested_by = fields.String()
    decided_by = fields.String(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    decision_note = fields.String(allow_none=True)
    entry_id = fields.Integer(allow_none=True)
    expires_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class AdjustmentListArgsSchema(PageArgsSchema):
    status = fields.Enum(AdjustmentStatus, by_value=True)


class AdjustmentPageSchema(PageSchema):
    data = fields.List(fields.Nested(AdjustmentSchema))


# -- settings ----------------------------------------------------------------------------


class PackageSchema(Schema):
    points = Points(required=True)
    amount = SettingAmountField(required=True)


def _id_list() -> fields.List:
    return fields.List(HostId(), validate=validate.Length(0, 1000))


def _limit(low: int = 1) -> fields.Integer:
    return fields.Integer(strict=True, allow_none=True, validate=validate.Range(low, 10**12))


class SettingsSchema(Schema):
    """A merchant's spending settings (``PATCH`` takes any subset)."""

    conversion_points = fields.Integer(
        strict=True, validate=validate.Range(1, 10**9), metadata={"description": "these points..."}
    )
    conversion_amount = SettingAmountField(metadata={"description": "...are worth this much"})
    min_redeem_points = fields.Integer(strict=True, validate=validate.Range(0, 10**12))
    max_invoice_share = SettingAmountField(metadata={"description": "percent of the invoice total"})
    max_points_per_invoice = _limit()
    excluded_product_ids = _id_list()
    excluded_category_ids = _id_list()
    pay_tax_with_points = fields.Boolean()
    pay_shipping_with_points = fields.Boolean()
    redemption_mode = fields.String(validate=validate.OneOf([m.value for m in RedemptionMode]))
    hold_minutes = fields.Integer(strict=True, validate=validate.Range(1, 10**7))
    coupon_points = fields.Integer(strict=True, validate=validate.Range(1, 10**9))
    coupon_amount = SettingAmountField()
    coupon_packages = fields.List(fields.Nested(PackageSchema), validate=validate.Length(0, 50))
    coupon_min_points = fields.Integer(strict=True, validate=validate.Range(0, 10**12))
    coupon_valid_days = fields.Integer(
        strict=True, allow_none=True, validate=validate.Range(1, 36_500)
    )
    coupon_valid_until = fields.Date(allow_none=True)
    coupon_product_ids = _id_list()
    coupon_category_ids = _id_list()
    coupon_refund_on_expiry = fields.Boolean()
    coupon_conversion = fields.Boolean(
        metadata={"description": "customers may turn points into coupons"}
    )
    adjustment_approval_above = _limit()
    birthday_bonus_by_job = fields.Boolean()
    create_unknown_customers = fields.Boolean(
        metadata={"description": "an event or write naming an unknown customer creates them"}
    )
    auto_enrol = fields.Boolean(
        metadata={"description": "customers the host does not say are enrolled are enrolled"}
    )
    waiting_report_hours = fields.Integer(
        strict=True,
        validate=validate.Range(1, 24 * 365),
        metadata={"description": "an event waiting longer than this is reported"},
    )
    portal_frame_ancestors = fields.List(
        fields.String(validate=validate.Length(1, 300)),
        validate=validate.Length(0, 20),
        metadata={
            "description": "origins (https://shop.example) whose pages may frame the portal; "
            "empty: none may"
        },
    )
    store_groups = fields.Dict(
        keys=fields.String(validate=validate.Length(1, 64)),
        values=fields.List(
            fields.String(validate=validate.Length(1, 64)), validate=validate.Length(1, 500)
        ),
        validate=validate.Length(0, 200),
        metadata={
            "description": "store groups rule conditions name: group to store ids, "
            '{"north": ["S1", "S2"]}'
        },
    )
    credit_currencies = fields.List(
        fields.String(validate=validate.Length(1, 8)),
        allow_none=True,
        validate=validate.Length(0, 20),
        metadata={
            "description": "the store credit wallet: currencies (ISO 4217) customers may hold "
            'credit in, earned by rules with a credit reward, ["EUR"]; empty: points only'
        },
    )
    credit_expiry_months = fields.Integer(
        strict=True,
        allow_none=True,
        validate=validate.Range(1, MAX_CREDIT_EXPIRY_MONTHS),
        metadata={
            "description": "store credit expires this many months after it was earned, at "
            "the end of that day in the merchant's time zone; null (the default): never"
        },
    )
    points_to_credit_points = fields.Integer(
        strict=True,
        allow_none=True,
        validate=validate.Range(1, 10**9),
        metadata={
            "description": "these points become points_to_credit_amount of store credit "
            "(POST /credit-conversions); null: customers may not turn points into credit"
        },
    )
    points_to_credit_amount = SettingAmountField(
        metadata={"description": "...this much store credit, in the merchant's currency"}
    )
    credit_coupons = fields.Boolean(
        metadata={"description": "customers may buy coupons with store credit [false]"}
    )
    credit_max_invoice_share = SettingAmountField(
        metadata={
            "description": "percent of the invoice total payable with store credit; credit and "
            "points together stay under max_invoice_share too"
        }
    )
    updated_at = fields.DateTime(dump_only=True)
    updated_by = fields.String(dump_only=True, allow_none=True)

    @post_load
    def _packages_as_json(self, data: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
        if "coupon_packages" in data:
            data["coupon_packages"] = [
                {"points": p["points"], "amount": format(p["amount"], "f")}
                for p in data["coupon_packages"]
            ]
        return data


class SettingsUpdateArgsSchema(SettingsSchema):
    """Any subset of the settings."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(partial=True, **kwargs)


# -- transfers and merges ------------------------------------------------------------------


class TransferArgsSchema(MerchantArgsSchema):
    from_customer_id = HostId(required=True, metadata={"description": "who gives the points"})
    to_customer_id = HostId(required=True, metadata={"description": "who receives them"})
    points = fields.Integer(strict=True, required=True, validate=validate.Range(1, 10**12))
    reason = Text(1, 400, required=True)


class TransferLotSchema(Schema):
    points = fields.Integer()
    earned_at = fields.String(metadata={"description": "kept from the sender's lot"})
    expires_at = fields.String(
        allow_none=True, metadata={"description": "kept from the sender's lot"}
    )


class TransferSchema(Schema):
    from_customer_id = fields.String()
    to_customer_id = fields.String()
    points = fields.Integer()
    reason = fields.String()
    entry_id = fields.Integer(metadata={"description": "the sender's ``transfer`` entry"})
    received_entry_ids = fields.List(
        fields.Integer(), metadata={"description": "the receiver's ``transfer_in`` entries"}
    )
    lots = fields.List(fields.Nested(TransferLotSchema))
    created_at = fields.String()


class MergeArgsSchema(MerchantArgsSchema):
    into_customer_id = HostId(
        required=True, metadata={"description": "the survivor, who keeps everything"}
    )
    reason = Text(1, 400)


class MergeSchema(Schema):
    customer_id = fields.String(
        metadata={"description": "the merged customer (kept, marked merged)"}
    )
    into_customer_id = fields.String()
    points_moved = fields.Integer()
    debt_moved = fields.Integer()
    lots_moved = fields.Integer()
    merged_at = fields.String(allow_none=True)
    already_merged = fields.Boolean(metadata={"description": "merged before: nothing changed now"})
