"""The card endpoints' bodies: number schemes and batches in, cards and batches out."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from loyalty_plugin.domain.cards import CHECK_DIGITS, MAX_BATCH, MAX_NUMBER, MAX_PREFIX
from loyalty_plugin.schemas.api import HostId, MerchantArgsSchema, Text, When

_ALGORITHMS = validate.OneOf(list(CHECK_DIGITS))


def _prefix(**kwargs: Any) -> fields.String:
    return fields.String(
        validate=validate.Length(0, MAX_PREFIX),
        metadata={"description": "digits every number starts with", "example": "2977"},
        **kwargs,
    )


class GenerateCardsArgsSchema(Schema):
    """How many numbers, and their scheme."""

    count = fields.Integer(required=True, strict=True, validate=validate.Range(1, MAX_BATCH))
    prefix = _prefix(load_default="")
    length = fields.Integer(
        load_default=13, strict=True, metadata={"description": "digits in all, 8 to 19"}
    )
    check_digit = fields.String(load_default="luhn", validate=_ALGORITHMS)


class ImportCardsArgsSchema(MerchantArgsSchema):
    """The scheme the file's numbers must fit: none when ``length`` is not given."""

    length = fields.Integer(metadata={"description": "check each number: digits in all"})
    prefix = _prefix(load_default="")
    check_digit = fields.String(load_default="none", validate=_ALGORITHMS)


class AssignCardArgsSchema(Schema):
    customer_id = HostId(required=True)


class BlockCardArgsSchema(Schema):
    reason = Text(1, 200, required=True, metadata={"example": "stolen"})


class ReplaceCardArgsSchema(Schema):
    new_number = Text(1, MAX_NUMBER, required=True)
    reason = Text(1, 200, load_default="lost")


class CardSchema(Schema):
    """A card and who holds it."""

    number = fields.String()
    status = fields.String(metadata={"enum": ["available", "assigned", "blocked", "replaced"]})
    batch_id = fields.Integer()
    customer_id = fields.String(allow_none=True, metadata={"description": "the holder"})
    assigned_at = When(allow_none=True)
    blocked_at = When(allow_none=True)
    block_reason = fields.String(allow_none=True)
    replaced_by = fields.String(allow_none=True, metadata={"description": "its replacement"})
    created_at = When()


class CardBatchSchema(Schema):
    """One generation or import of card numbers."""

    id = fields.Integer()
    source = fields.String(metadata={"enum": ["generated", "imported"]})
    prefix = fields.String()
    length = fields.Integer(allow_none=True)
    check_digit = fields.String()
    count = fields.Integer()
    created_by = fields.String()
    created_at = When()
