"""marshmallow schemas of the host's webhook bodies (contract v1).

An event is read in two steps: the envelope (``type``, ``occurred_at``, ``merchant_id``,
``data``), then ``data`` with the schema of its type. Errors come back as a flat mapping of
field paths (``data.invoice.items.0.qty``) to messages. Money must be a decimal string, an
integer, or a JSON number already parsed to ``Decimal`` (the intake parses with
``parse_float=Decimal``): never a float. Fields the contract does not name are ignored, so
a host may send more than we read.
"""

from __future__ import annotations

from datetime import UTC
from decimal import Decimal
from typing import Any

from babel import Locale, UnknownLocaleError
from marshmallow import (
    EXCLUDE,
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates_schema,
)

from loyalty_plugin.domain import errors
from loyalty_plugin.domain.earning import InvoiceFacts, LineItem
from loyalty_plugin.domain.host_events import (
    EVENT_TYPES,
    BirthdayData,
    CancelData,
    CustomData,
    CustomerEventData,
    CustomerProfile,
    InvoiceData,
    MergeData,
    Payment,
    Refund,
    RefundData,
    RefundLine,
    RefundReversedData,
)
from loyalty_plugin.domain.money import MAX_AMOUNT, check_currency, parse_money
from loyalty_plugin.schemas.body import unstorable_text
from loyalty_plugin.schemas.common import AwareDateTime

POSITIVE = "must be greater than 0"
NOT_NEGATIVE = "must not be negative"


class MoneyField(fields.Field):
    """A decimal amount: string, integer or ``Decimal``; floats and booleans are refused."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        try:
            return parse_money(value)
        except errors.ValidationError as error:
            raise ValidationError(error.message) from None


class HostId(fields.Field):
    """A host's id: a string or an integer (Perfex sends integers), kept as text."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise ValidationError("must be a string or an integer")
        text = str(value).strip()
        if not text or len(text) > 64:
            raise ValidationError("must be 1 to 64 characters")
        return text


class CurrencyField(fields.String):
    """An ISO 4217 code, upper-cased."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return check_currency(text)
        except errors.ValidationError as error:
            raise ValidationError(error.message) from None


class CardNumber(fields.String):
    """A loyalty card's number (spaces and dashes allowed); which customer it names, and
    whether its card may earn, is decided when the event is handled."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(validate=validate.Length(1, 64), **kwargs)


def _positive(value: Decimal) -> None:
    if value <= 0:
        raise ValidationError(POSITIVE)


def _not_negative(value: Decimal) -> None:
    if value < 0:
        raise ValidationError(NOT_NEGATIVE)


def _locale(value: str | None) -> None:
    """A locale Babel knows (``de_DE``, ``sw-KE``), stored as given."""
    if value is None:
        return
    try:
        Locale.parse(value.replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        raise ValidationError(f"unknown locale {value!r}") from None


class _Schema(Schema):
    class Meta:
        unknown = EXCLUDE


def _text(length: int, **kwargs: Any) -> fields.String:
    return fields.String(validate=validate.Length(max=length), allow_none=True, **kwargs)


class CustomerSchema(_Schema):
    """A customer's profile; only ``id`` is required (``first_name`` to create one)."""

    id = HostId(required=True)
    customer_number = _text(64)
    first_name = fields.String(validate=validate.Length(min=1, max=100))
    last_name = _text(100)
    email = _text(254)
    phone = _text(32)
    address_line = _text(200)
    city = _text(100)
    state = _text(100)
    postal_code = _text(20)
    country = _text(2)
    date_of_birth = fields.Date(allow_none=True)
    group = _text(64, attribute="customer_group")
    #: Every group of the customer; ``group`` defaults to the first.
    groups = fields.List(
        fields.String(validate=validate.Length(min=1, max=64)),
        attribute="customer_groups",
        validate=validate.Length(max=50),
        allow_none=True,
    )
    #: Tags the host puts on the customer (``vip``, ``student``); rule conditions read them.
    tags = fields.List(
        fields.String(validate=validate.Length(min=1, max=64)),
        validate=validate.Length(max=50),
        allow_none=True,
    )
    enrolled = fields.Boolean()
    email_opt_in = fields.Boolean()
    sms_opt_in = fields.Boolean()
    card_number = _text(64)
    #: The customer's language (``de``, ``de_DE``, ``sw-KE``): the portal's and e-mails'.
    locale = fields.String(validate=[validate.Length(max=16), _locale], allow_none=True)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> CustomerProfile:
        host_id = data.pop("id")
        if "customer_groups" in data:
            groups = list(dict.fromkeys(data["customer_groups"] or ()))
            data["customer_groups"] = groups
            data.setdefault("customer_group", groups[0] if groups else None)
        if "tags" in data:
            data["tags"] = list(dict.fromkeys(data["tags"] or ()))
        return CustomerProfile(id=host_id, fields=data)


class NewCustomerSchema(CustomerSchema):
    """``customer.created``: the first name is required too."""

    first_name = fields.String(required=True, validate=validate.Length(min=1, max=100))


class LineItemSchema(_Schema):
    id = HostId(required=True)
    product_id = HostId(allow_none=True)
    sku = _text(64)
    name = _text(200)
    category_id = HostId(allow_none=True)
    qty = MoneyField(required=True, validate=_positive)
    unit_price = MoneyField(allow_none=True, validate=_not_negative)
    discount = MoneyField(allow_none=True, validate=_not_negative)
    total = MoneyField(required=True, validate=_not_negative)
    tags = fields.List(fields.String(validate=validate.Length(max=64)), load_default=list)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> LineItem:
        data["tags"] = tuple(data["tags"])
        return LineItem(**{k: v for k, v in data.items() if v is not None or k == "tags"})


#: The invoice's own amounts (besides its lines').
INVOICE_AMOUNTS = (
    "subtotal",
    "discount_total",
    "tax_total",
    "shipping_total",
    "total",
    "transaction_fee",
)


class InvoiceSchema(_Schema):
    id = HostId(required=True)
    number = _text(64)
    customer_id = HostId()
    customer = fields.Nested(CustomerSchema)
    currency = CurrencyField(required=True)
    exchange_rate = MoneyField(allow_none=True, validate=_positive)
    date = fields.Date(allow_none=True)
    subtotal = MoneyField(allow_none=True)
    discount_total = MoneyField(allow_none=True, validate=_not_negative)
    tax_total = MoneyField(allow_none=True)
    shipping_total = MoneyField(allow_none=True, validate=_not_negative)
    total = MoneyField(required=True, validate=_not_negative)
    transaction_fee = MoneyField(allow_none=True, validate=_not_negative)
    #: The sales channel: ``online``, ``pos``, ``app``, ``marketplace`` or any label.
    channel = _text(64)
    location = _text(64)
    #: The store or branch the sale was made in (rule conditions read it).
    store_id = HostId(allow_none=True)
    redemption_id = HostId(allow_none=True)
    items = fields.List(fields.Nested(LineItemSchema), load_default=list)
    #: A loyalty card's number, when the till knows only the card.
    card_number = CardNumber()

    @validates_schema
    def names_a_customer(self, data: dict[str, Any], **_: Any) -> None:
        if not {"customer_id", "customer", "card_number"} & data.keys():
            raise ValidationError("customer_id, customer or card_number is required", "customer_id")
        embedded = data.get("customer")
        if embedded and "customer_id" in data and embedded.id != data["customer_id"]:
            raise ValidationError("does not match customer.id", "customer_id")

    @validates_schema
    def converts_within_range(self, data: dict[str, Any], **_: Any) -> None:
        """The amounts, converted at ``exchange_rate``, must still be storable."""
        rate = data.get("exchange_rate")
        amounts = [data.get(name) for name in INVOICE_AMOUNTS]
        amounts += [getattr(item, "total", None) for item in data.get("items") or ()]
        largest = max((abs(a) for a in amounts if a is not None), default=Decimal(0))
        if rate is not None and largest * rate >= MAX_AMOUNT:
            raise ValidationError(
                f"converts {largest} to {largest * rate:.4E}, over the largest amount stored "
                f"({MAX_AMOUNT:.0E})",
                "exchange_rate",
            )

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        customer = data.pop("customer", None)
        card_number = data.pop("card_number", None)
        if customer is not None:
            data["customer_id"] = customer.id
        data["items"] = tuple(data["items"])
        facts = InvoiceFacts(**{k: v for k, v in data.items() if v is not None})
        return {"invoice": facts, "customer": customer, "card_number": card_number}


class PaymentSchema(_Schema):
    id = HostId(required=True)
    amount = MoneyField(required=True, validate=_positive)
    date = fields.Date(allow_none=True)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Payment:
        return Payment(**data)


class RefundLineSchema(_Schema):
    line_id = HostId(required=True)
    qty = MoneyField(required=True, validate=_positive)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> RefundLine:
        return RefundLine(**data)


class RefundSchema(_Schema):
    id = HostId(required=True)
    amount = MoneyField(required=True, validate=_not_negative)
    items = fields.List(fields.Nested(RefundLineSchema), load_default=list)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Refund:
        return Refund(id=data["id"], amount=data["amount"], items=tuple(data["items"]))


class CustomerEventSchema(_Schema):
    """``customer.updated``."""

    customer = fields.Nested(CustomerSchema, required=True)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> CustomerEventData:
        return CustomerEventData(customer=data["customer"])


class CustomerCreatedSchema(CustomerEventSchema):
    """``customer.created``."""

    customer = fields.Nested(NewCustomerSchema, required=True)


class _NamesCustomer(_Schema):
    """An event about one customer: ``customer_id``, or the ``card_number`` they hold."""

    customer_id = HostId()
    card_number = CardNumber()

    @validates_schema
    def names_a_customer(self, data: dict[str, Any], **_: Any) -> None:
        if not {"customer_id", "card_number"} & data.keys():
            raise ValidationError("customer_id or card_number is required", "customer_id")


class BirthdaySchema(_NamesCustomer):
    date = fields.Date(required=True)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> BirthdayData:
        return BirthdayData(**data)


class MergedSchema(_Schema):
    customer_id = HostId(required=True)
    into_customer_id = HostId(required=True)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> MergeData:
        return MergeData(**data)


class InvoicePaidSchema(_Schema):
    invoice = fields.Nested(InvoiceSchema, required=True)
    #: The payments that paid the invoice, counted once each like ``payment_recorded``.
    payments = fields.List(fields.Nested(PaymentSchema), load_default=list)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> InvoiceData:
        return InvoiceData(**data["invoice"], payments=tuple(data["payments"]))


class PaymentRecordedSchema(_Schema):
    invoice = fields.Nested(InvoiceSchema, required=True)
    payment = fields.Nested(PaymentSchema, required=True)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> InvoiceData:
        return InvoiceData(**data["invoice"], payment=data["payment"])


class RefundedSchema(_Schema):
    invoice_id = HostId(required=True)
    refund = fields.Nested(RefundSchema, required=True)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> RefundData:
        return RefundData(**data)


class RefundReversedSchema(_Schema):
    invoice_id = HostId(required=True)
    refund_id = HostId(required=True)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> RefundReversedData:
        return RefundReversedData(**data)


class CancelledSchema(_Schema):
    invoice_id = HostId(required=True)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> CancelData:
        return CancelData(**data)


class CustomEventSchema(_NamesCustomer):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    properties = fields.Dict(keys=fields.String(), load_default=dict)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> CustomData:
        return CustomData(**data)


#: The ``data`` schema of each event type.
DATA_SCHEMAS: dict[str, type[Schema]] = {
    "customer.created": CustomerCreatedSchema,
    "customer.updated": CustomerEventSchema,
    "customer.birthday": BirthdaySchema,
    "customer.merged": MergedSchema,
    "invoice.paid": InvoicePaidSchema,
    "invoice.payment_recorded": PaymentRecordedSchema,
    "invoice.refunded": RefundedSchema,
    "invoice.cancelled": CancelledSchema,
    "invoice.reinstated": CancelledSchema,
    "invoice.refund_reversed": RefundReversedSchema,
    "event.custom": CustomEventSchema,
}
assert tuple(DATA_SCHEMAS) == EVENT_TYPES  # noqa: S101 - one list of types, checked at import


class EnvelopeSchema(_Schema):
    """What every event has: its type, when it happened, whose it is, and its data."""

    type = fields.String(required=True)
    occurred_at = AwareDateTime(required=True, default_timezone=UTC)
    merchant_id = HostId(allow_none=True)
    data = fields.Dict(required=True)

    @validates_schema
    def known_type(self, envelope: dict[str, Any], **_: Any) -> None:
        kind = envelope.get("type")
        if kind is not None and kind not in DATA_SCHEMAS:
            raise ValidationError(
                f"unknown event type {kind!r}; known types: {', '.join(EVENT_TYPES)}", "type"
            )


class InvalidEvent(Exception):
    """The body is JSON but not a valid event; ``fields`` maps paths to messages."""

    def __init__(self, fields_: dict[str, list[str]]) -> None:
        self.fields = fields_
        first = next(iter(fields_.items()))
        super().__init__(f"{first[0]}: {first[1][0]}")


def load_event(document: Any) -> tuple[dict[str, Any], Any]:
    """Validate a decoded body: the envelope, then its typed ``data``.

    :returns: the envelope (with ``type``, ``occurred_at``, ``merchant_id``) and the data
        object of its type.
    :raises InvalidEvent: with every problem found, by field path.
    """
    if not isinstance(document, dict):
        raise InvalidEvent({"_body": ["must be a JSON object"]})
    if (problem := unstorable_text(document)) is not None:
        raise InvalidEvent({problem[0]: [problem[1]]})
    try:
        envelope = EnvelopeSchema().load(document)
    except ValidationError as error:
        raise InvalidEvent(flatten(error.messages)) from None
    try:
        data = DATA_SCHEMAS[envelope["type"]]().load(envelope["data"])
    except ValidationError as error:
        raise InvalidEvent(flatten(error.messages, prefix="data")) from None
    return envelope, data


def flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested error dict as ``{"data.invoice.items.0.qty": [...]}``."""
    if isinstance(messages, list | tuple) and all(isinstance(m, str) for m in messages):
        return {prefix or "_body": list(messages)}
    if isinstance(messages, str):
        return {prefix or "_body": [messages]}
    flat: dict[str, list[str]] = {}
    items = messages.items() if isinstance(messages, dict) else enumerate(messages)
    for key, value in items:
        path = prefix if key == "_schema" else f"{prefix}.{key}" if prefix else str(key)
        for name, texts in flatten(value, path).items():
            flat.setdefault(name, []).extend(texts)
    return flat
