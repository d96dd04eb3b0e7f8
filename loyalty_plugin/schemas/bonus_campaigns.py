"""marshmallow schemas of bonus campaigns (#18): the definition, the API's bodies and answers.

A campaign is validated by :func:`load_bonus_campaign` (the API, the admin screen and the
program file all go through it), which raises :class:`InvalidBonusCampaign` naming every
field at fault. Conditions are the rules' own :class:`ConditionsSchema`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import INCLUDE, Schema, ValidationError, fields, validate, validates_schema

from loyalty_plugin.schemas.common import AwareDateTime
from loyalty_plugin.schemas.programs import (
    KEY_PATTERN,
    ConditionsSchema,
    DecimalField,
    InvalidProgram,
    flatten_errors,
    to_json,
)

#: Fields a campaign document has besides those an API body sends.
OUTPUT_ONLY = ("given", "remaining", "status", "ended_at")


class InvalidBonusCampaign(InvalidProgram):
    """A bonus campaign failed validation; ``fields`` maps paths to messages."""

    code = "invalid_bonus_campaign"


#: The most points a campaign gives or budgets (a 64-bit column holds far more).
MAX_POINTS = 10**12


def _points(**kwargs: Any) -> fields.Integer:
    """Whole points from 1 to :data:`MAX_POINTS`, or null."""
    return fields.Integer(
        strict=True,
        allow_none=True,
        validate=validate.Range(
            min=1, max=MAX_POINTS, error="Must be a whole number from 1 to {max:,}."
        ),
        load_default=None,
        **kwargs,
    )


class BonusCampaignSchema(Schema):
    """A whole campaign, as created through the API or written in the program file."""

    key = fields.String(
        required=True,
        validate=validate.Regexp(KEY_PATTERN, error="use 1-64 of a-z, 0-9, - and _"),
    )
    name = fields.String(required=True, validate=validate.Length(1, 200))
    program = fields.String(
        load_default=None, allow_none=True, validate=validate.Regexp(KEY_PATTERN)
    )
    conditions = fields.Nested(ConditionsSchema, load_default=dict)
    starts_at = AwareDateTime(required=True)
    ends_at = AwareDateTime(required=True)
    multiplier = DecimalField(load_default=None, allow_none=True, minimum=None)
    points = _points()
    budget = _points()
    budget_per_customer = _points()
    priority = fields.Integer(strict=True, load_default=0, validate=validate.Range(-1000, 1000))

    @validates_schema
    def _coherent(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if data.get("starts_at") and data.get("ends_at") and data["ends_at"] <= data["starts_at"]:
            raise ValidationError("must be after starts_at", "ends_at")
        multiplier, points = data.get("multiplier"), data.get("points")
        if (multiplier is None) == (points is None):
            raise ValidationError("give either a multiplier or points, not both", "multiplier")
        if multiplier is not None and not 1 < multiplier <= 100:
            raise ValidationError("must be more than 1 and at most 100", "multiplier")
        budget, each = data.get("budget"), data.get("budget_per_customer")
        if budget is not None and each is not None and each > budget:
            raise ValidationError("must not be more than budget", "budget_per_customer")


def load_bonus_campaign(
    data: Any, *, current: Mapping[str, Any] | None = None, prefix: str = ""
) -> dict[str, Any]:
    """Validate a campaign (``current``: the stored one an update changes); returns it
    loaded (datetimes and decimals as objects). Raises :class:`InvalidBonusCampaign`."""
    if not isinstance(data, dict):
        problem = {"_schema": ["a bonus campaign must be an object"]}
        raise InvalidBonusCampaign(problem, prefix=prefix)
    if current is not None and "key" in data and data["key"] != current["key"]:
        raise InvalidBonusCampaign({"key": ["a campaign's key cannot change"]}, prefix=prefix)
    stored = {k: v for k, v in (current or {}).items() if k not in OUTPUT_ONLY}
    merged = {**stored, **data}
    if current is not None and "multiplier" in data and "points" not in data:
        merged["points"] = None
    if current is not None and "points" in data and "multiplier" not in data:
        merged["multiplier"] = None
    try:
        return BonusCampaignSchema().load(merged)
    except ValidationError as error:
        raise InvalidBonusCampaign(flatten_errors(error.messages), prefix=prefix) from None


def conditions_json(loaded: Mapping[str, Any]) -> dict[str, Any]:
    """A loaded campaign's conditions as stored JSON."""
    return to_json(dict(loaded.get("conditions") or {}))


# -- API bodies and answers -----------------------------------------------------------------


class BonusCampaignBodySchema(Schema):
    """A campaign sent to the API: documented here, validated by :func:`load_bonus_campaign`
    (unknown fields pass through so that it names them)."""

    class Meta:
        unknown = INCLUDE

    key = fields.String(metadata={"example": "gold-shoes-weekend"})
    name = fields.String(metadata={"example": "3x for Gold on Shoes"})
    program = fields.Raw(
        allow_none=True, metadata={"description": "program key; default: the first that earns"}
    )
    conditions = fields.Raw(
        allow_none=True, metadata={"description": "when, where, channels, who, what"}
    )
    starts_at = fields.Raw(allow_none=True, metadata={"description": "ISO 8601 with offset"})
    ends_at = fields.Raw(
        allow_none=True, metadata={"description": "ISO 8601 with offset (excluded)"}
    )
    multiplier = fields.Raw(
        allow_none=True, metadata={"description": "decimal string above 1, or null"}
    )
    points = fields.Raw(allow_none=True, metadata={"description": "fixed extra points, or null"})
    budget = fields.Raw(
        allow_none=True, metadata={"description": "most points in total; null: no limit"}
    )
    budget_per_customer = fields.Raw(
        allow_none=True, metadata={"description": "most points per customer"}
    )
    priority = fields.Raw(allow_none=True)


class BonusCampaignOutSchema(BonusCampaignBodySchema):
    """A campaign as the API answers: its definition, what it gave and its state."""

    given = fields.Integer()
    remaining = fields.Integer(allow_none=True)
    status = fields.String(metadata={"description": "scheduled, running, exhausted or ended"})
    ended_at = fields.String(allow_none=True)


class BonusCampaignListSchema(Schema):
    data = fields.List(fields.Nested(BonusCampaignOutSchema))
