"""marshmallow schemas of programs: their settings, rules, the declarative file and the API.

Loading validates and normalises: defaults are filled in, decimals become strings, and the
result is the JSON stored in a program version. Errors come back as one
:class:`InvalidProgram` listing every problem by its path (``programs.0.rules.2.per``).
Unknown fields are refused, so a misspelt setting never passes silently.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import datetime, time
from decimal import Decimal
from typing import Any

from marshmallow import (
    INCLUDE,
    Schema,
    ValidationError,
    fields,
    pre_load,
    validate,
    validates_schema,
)

from loyalty_plugin.domain import errors
from loyalty_plugin.domain.levels import (
    DISCOUNT_FIELDS,
    POINT_VALUE_FIELDS,
    SCHEME_FIELDS,
    TIER_FIELDS,
    scheme_from_settings,
)
from loyalty_plugin.domain.money import check_currency, parse_money
from loyalty_plugin.domain.programs import (
    Combination,
    Conflicts,
    EarnOn,
    ProgramStatus,
    ReversalPolicy,
    expiry_policy_from,
)
from loyalty_plugin.domain.rules import (
    DEFAULT_EXCLUDED_TAGS,
    CategoryTree,
    Period,
    Rounding,
    RoundingScope,
    Rule,
)
from loyalty_plugin.domain.rules.conditions import WEEKDAYS
from loyalty_plugin.schemas.common import AwareDateTime

#: The ``format`` of a declarative programs file.
FILE_FORMAT = "loyalty-programs/1"
#: What a program key looks like: lower-case letters, digits, ``-`` and ``_``.
KEY_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
#: Fields of a program that are not versioned settings.
IDENTITY_FIELDS = ("key", "name", "status", "effective_from")
#: A program's ``expiry`` fields: ``None`` for those it uses; for the others, why not.
PROGRAM_EXPIRY_FIELDS: dict[str, str | None] = {
    "kind": None,
    "days": None,
    "extra_months": None,
    "fixed_date": None,
    "reminder_days": (
        "reminders are the merchant's, not a program's: set reminders.points_expiring_days "
        "in `loyalty config`, or `loyalty expiry set --reminders`"
    ),
    "inactivity_months": (
        "inactivity expiry is the merchant's, not a program's: set expiry.inactivity_months "
        "in `loyalty config`, or `loyalty expiry set --inactivity-months`"
    ),
}
#: A program's ``redemption`` fields, as :data:`PROGRAM_EXPIRY_FIELDS`.
PROGRAM_REDEMPTION_FIELDS: dict[str, str | None] = {
    "point_value": None,
    "*": (
        "a program's redemption holds only point_value (money per point, for simulations); "
        "spending rules are the merchant's: settings in `loyalty config`, or PATCH /settings"
    ),
}


class InvalidProgram(errors.ValidationError):
    """A program definition or file failed validation; ``fields`` maps paths to messages."""

    code = "invalid_program"

    def __init__(self, fields: Mapping[str, list[str]], *, prefix: str = "") -> None:
        self.fields = {f"{prefix}{path}": list(messages) for path, messages in fields.items()}
        first = next(iter(self.fields.items()), ("", ["invalid"]))
        super().__init__(f"{first[0]}: {first[1][0]}", field=first[0] or None)

    def to_dict(self) -> dict[str, object]:
        return {"code": self.code, "message": self.message, "fields": self.fields}


def flatten_errors(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested error dict as ``{"a.0.b": ["message"]}``."""
    if isinstance(messages, dict):
        flat: dict[str, list[str]] = {}
        for key, value in messages.items():
            path = f"{prefix}.{key}" if prefix and key != "_schema" else (prefix or str(key))
            flat.update(flatten_errors(value, path))
        return flat
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return {prefix or "_schema": list(messages)}
    return {prefix or "_schema": [str(messages)]}


def to_json(value: Any) -> Any:
    """Loaded data as plain JSON: decimals as strings, sets sorted, datetimes ISO 8601."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted(to_json(v) for v in value)
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    return value


def settings_hash(settings: Mapping[str, Any]) -> str:
    """A stable fingerprint of normalised settings (an unchanged import makes no version)."""
    canonical = json.dumps(settings, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _unused(config: Mapping[str, Any], known: Mapping[str, str | None]) -> dict[str, list[str]]:
    """Fields a program would accept but never use, each with where it belongs instead."""
    return {
        key: [known.get(key) or known.get("*") or "unknown field"]
        for key in config
        if key not in known or known[key] is not None
    }


def _unknown_level_fields(config: Mapping[str, Any]) -> dict[str, Any]:
    """Fields of ``levels`` that no level rule reads, by path (``tiers.1.colour``)."""
    found = _unknown(config, SCHEME_FIELDS)
    tiers = config.get("tiers")
    for index, tier in enumerate(tiers if isinstance(tiers, list) else ()):
        if not isinstance(tier, Mapping):
            continue
        where = f"tiers.{index}"
        found |= {f"{where}.{k}": v for k, v in _unknown(tier, TIER_FIELDS).items()}
        if isinstance(tier.get("point_value"), Mapping):
            extra = _unknown(tier["point_value"], POINT_VALUE_FIELDS)
            found |= {f"{where}.point_value.{k}": v for k, v in extra.items()}
        discounts = tier.get("discounts")
        for number, discount in enumerate(discounts if isinstance(discounts, list) else ()):
            if isinstance(discount, Mapping):
                extra = _unknown(discount, DISCOUNT_FIELDS)
                found |= {f"{where}.discounts.{number}.{k}": v for k, v in extra.items()}
    return found


def _unknown(config: Mapping[str, Any], known: frozenset[str]) -> dict[str, list[str]]:
    return {key: ["unknown field"] for key in config if key not in known}


def _point_value_problems(value: Any) -> list[str]:
    """Why a program's ``redemption.point_value`` is not a decimal above 0 (none: it is)."""
    if value is None:
        return []
    try:
        DecimalField(positive=True).deserialize(value)
    except ValidationError as error:
        return list(error.messages)
    return []


# -- fields -------------------------------------------------------------------------------


class DecimalField(fields.Field):
    """A decimal as a string or an integer (a parsed ``Decimal`` too); never a float."""

    def __init__(self, *, minimum: Decimal | None = Decimal(0), positive: bool = False, **kw: Any):
        super().__init__(**kw)
        self.minimum = minimum
        self.positive = positive

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        if isinstance(value, float):
            raise ValidationError("must be a decimal string or an integer, not a float")
        try:
            amount = parse_money(value)
        except errors.ValidationError as error:
            raise ValidationError(error.message) from None
        if self.positive and amount <= 0:
            raise ValidationError("must be greater than 0")
        if self.minimum is not None and amount < self.minimum:
            raise ValidationError(f"must be at least {self.minimum}")
        return amount

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else str(value)


class CurrencyField(fields.String):
    """An ISO 4217 code, upper-cased."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return check_currency(text)
        except errors.ValidationError as error:
            raise ValidationError(error.message) from None


def Names(**kwargs: Any) -> fields.List:
    """A list of non-empty ids (products, categories, tags, groups, levels)."""
    return fields.List(fields.String(validate=validate.Length(1, 64)), **kwargs)


def Choice(enum: type, **kwargs: Any) -> fields.String:
    """One of an enum's values."""
    return fields.String(validate=validate.OneOf([e.value for e in enum]), **kwargs)


def WholePoints(**kwargs: Any) -> fields.Integer:
    """A whole number of points, 0 or more."""
    return fields.Integer(strict=True, validate=validate.Range(min=0), **kwargs)


# -- rules --------------------------------------------------------------------------------


class ExclusionsSchema(Schema):
    products = Names(load_default=list)
    categories = Names(load_default=list)
    tags = Names(load_default=list)
    groups = Names(load_default=list)


class LimitSchema(Schema):
    count = fields.Integer(strict=True, required=True, validate=validate.Range(min=1))
    per = Choice(Period, required=True)


class DayField(fields.Date):
    """A date ``YYYY-MM-DD``, stored as that text."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        return super()._deserialize(value, attr, data, **kwargs).isoformat()


class ClockField(fields.String):
    """A local time of day ``HH:MM``, stored as that text."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            clock = time.fromisoformat(text)
        except ValueError:
            raise ValidationError("must be a time of day, HH:MM (00:00 to 23:59)") from None
        if clock.second or clock.microsecond or clock.tzinfo:
            raise ValidationError("must be a time of day, HH:MM (00:00 to 23:59)")
        return f"{clock:%H:%M}"


class DateRangeSchema(Schema):
    start = DayField(data_key="from", attribute="from", load_default=None, allow_none=True)
    end = DayField(data_key="to", attribute="to", load_default=None, allow_none=True)

    @validates_schema
    def _ordered(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if data.get("from") and data.get("to") and data["to"] < data["from"]:
            raise ValidationError("must not be before from", "to")


class HourRangeSchema(Schema):
    start = ClockField(data_key="from", attribute="from", required=True)
    end = ClockField(data_key="to", attribute="to", required=True)

    @validates_schema
    def _not_empty(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if data.get("from") is not None and data.get("from") == data.get("to"):
            raise ValidationError("must differ from from (22:00-02:00 crosses midnight)", "to")


class WhenSchema(Schema):
    dates = fields.Nested(DateRangeSchema)
    weekdays = fields.List(fields.String(validate=validate.OneOf(WEEKDAYS)))
    hours = fields.List(fields.Nested(HourRangeSchema))


class WhereSchema(Schema):
    stores = Names()
    store_groups = Names()


def Days(**kwargs: Any) -> fields.Integer:
    """A number of days, 1 to 3650."""
    return fields.Integer(strict=True, validate=validate.Range(1, 3650), **kwargs)


class WhoSchema(Schema):
    groups = Names()
    levels = Names()
    tags = Names()
    registered_within_days = Days()
    inactive_days = Days()


class WhatSchema(Schema):
    products = Names()
    categories = Names()
    tags = Names()


class ConditionsSchema(Schema):
    """When, where, through which channel, for whom and on what a rule earns
    (docs/programs.md#conditions). Every part optional; all given must hold."""

    when = fields.Nested(WhenSchema)
    where = fields.Nested(WhereSchema)
    channels = fields.List(fields.String(validate=validate.Length(1, 64)))
    who = fields.Nested(WhoSchema)
    what = fields.Nested(WhatSchema)


class RewardSchema(Schema):
    """Store credit a rule gives (issue #19): ``credit_percent`` of the money its points
    are computed on, or a fixed ``credit_amount`` per invoice; ``instead_of_points``."""

    credit_percent = DecimalField(positive=True, validate=validate.Range(max=100))
    credit_amount = DecimalField(positive=True)
    instead_of_points = fields.Boolean(load_default=False)

    @validates_schema
    def _one_kind(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if ("credit_percent" in data) == ("credit_amount" in data):
            raise ValidationError("give either credit_percent or credit_amount")


#: Rule kinds whose points are computed on money, so that a percent of it can be credit.
ON_MONEY = frozenset({"per_amount", "transaction_fee", "progressive", "segmented"})


class RuleSchema(Schema):
    """What every rule has: an ``id`` (unique in its program), a ``kind`` and exclusions;
    optionally ``conditions``, a criteria ``group`` and a store credit ``reward``."""

    id = fields.String(validate=validate.Regexp(KEY_PATTERN, error="use a-z, 0-9, - and _"))
    kind = fields.String(required=True)
    exclude = fields.Nested(ExclusionsSchema)
    conditions = fields.Nested(ConditionsSchema)
    group = fields.String(validate=validate.Length(1, 64))
    reward = fields.Nested(RewardSchema)

    @validates_schema
    def _reward_fits_the_kind(self, data: dict[str, Any], **_kwargs: Any) -> None:
        reward = data.get("reward")
        if not reward or "credit_percent" not in reward:
            return
        by_ratio = data.get("kind") in ("product", "category") and data.get("per") is not None
        if data.get("kind") not in ON_MONEY and not by_ratio:
            raise ValidationError(
                "credit_percent needs a rule that earns on money (per_amount, progressive, "
                "segmented, transaction_fee, or product/category by points and per); "
                "give credit_amount",
                "reward",
            )

    @pre_load
    def _exclude_defaults(self, data: Any, **_kwargs: Any) -> Any:
        """Spell out empty exclusions, so a stored rule reads back the same."""
        return {"exclude": {}, **data} if isinstance(data, dict) else data


class RatioRuleSchema(RuleSchema):
    points = DecimalField(required=True)
    per = DecimalField(required=True, positive=True)


class SelectedRuleSchema(RuleSchema):
    """Product and category rules: fixed points per unit, or a ratio on the line amount."""

    points_per_unit = DecimalField()
    points = DecimalField()
    per = DecimalField(positive=True)

    @validates_schema
    def _one_mode(self, data: dict[str, Any], **_kwargs: Any) -> None:
        per_unit = data.get("points_per_unit") is not None
        ratio = data.get("points") is not None or data.get("per") is not None
        if per_unit == ratio:
            raise ValidationError("give either points_per_unit, or points and per")
        if ratio and (data.get("points") is None or data.get("per") is None):
            raise ValidationError("a ratio needs both points and per")


class ProductRuleSchema(SelectedRuleSchema):
    products = Names(required=True, validate=validate.Length(min=1))


class CategoryRuleSchema(SelectedRuleSchema):
    categories = Names(required=True, validate=validate.Length(min=1))


class FixedRuleSchema(RuleSchema):
    points = WholePoints(required=True)


class ProgressiveBracketSchema(Schema):
    up_to = DecimalField(positive=True, allow_none=True, load_default=None)
    points = DecimalField(required=True)
    per = DecimalField(required=True, positive=True)


class ProgressiveRuleSchema(RuleSchema):
    brackets = fields.List(
        fields.Nested(ProgressiveBracketSchema), required=True, validate=validate.Length(min=1)
    )

    @validates_schema
    def _ascending(self, data: dict[str, Any], **_kwargs: Any) -> None:
        ends = [b["up_to"] for b in data.get("brackets", ())]
        if None in ends[:-1]:
            raise ValidationError("only the last bracket may be open (up_to: null)", "brackets")
        bounded = [e for e in ends if e is not None]
        if bounded != sorted(set(bounded)):
            raise ValidationError("up_to must rise from one bracket to the next", "brackets")


class SegmentSchema(Schema):
    start = DecimalField(required=True, data_key="from", attribute="from")
    to = DecimalField(positive=True, allow_none=True, load_default=None)
    points = WholePoints(required=True)


class SegmentedRuleSchema(RuleSchema):
    brackets = fields.List(
        fields.Nested(SegmentSchema), required=True, validate=validate.Length(min=1)
    )

    @validates_schema
    def _no_overlap(self, data: dict[str, Any], **_kwargs: Any) -> None:
        segments = sorted(data.get("brackets", ()), key=lambda b: b["from"])
        for index, segment in enumerate(segments):
            if segment["to"] is not None and segment["to"] <= segment["from"]:
                raise ValidationError("each bracket needs from < to", "brackets")
            later = segments[index + 1 :]
            if later and (segment["to"] is None or segment["to"] > later[0]["from"]):
                raise ValidationError("brackets must not overlap", "brackets")


class EventRuleSchema(FixedRuleSchema):
    """An event rule (registration, birthday, custom) may give a fixed ``credit_amount``
    of store credit besides or instead of its points (#19)."""

    limit = fields.Nested(LimitSchema, allow_none=True, load_default=None)


class CustomEventRuleSchema(EventRuleSchema):
    name = fields.String(required=True, validate=validate.Length(1, 100))
    when = fields.Dict(keys=fields.String(), load_default=dict)


#: The schema of each built-in rule kind.
RULE_SCHEMAS: dict[str, type[Schema]] = {
    "per_amount": RatioRuleSchema,
    "transaction_fee": RatioRuleSchema,
    "product": ProductRuleSchema,
    "category": CategoryRuleSchema,
    "per_order": FixedRuleSchema,
    "first_purchase": FixedRuleSchema,
    "progressive": ProgressiveRuleSchema,
    "segmented": SegmentedRuleSchema,
    "registration": EventRuleSchema,
    "birthday": EventRuleSchema,
    "custom_event": CustomEventRuleSchema,
}


class RuleField(fields.Field):
    """One rule, validated by the schema of its ``kind`` (plugin kinds included)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, dict):
            raise ValidationError("a rule must be an object")
        kind = value.get("kind")
        schema = RULE_SCHEMAS.get(kind) if isinstance(kind, str) else None
        if schema is not None:
            return schema().load(value)
        plugin = _plugin_kinds(self).get(kind) if isinstance(kind, str) else None
        if plugin is None:
            known = sorted(RULE_SCHEMAS.keys() | _plugin_kinds(self).keys())
            raise ValidationError({"kind": [f"unknown rule kind; known: {', '.join(known)}"]})
        return _plugin_rule(plugin, value)


def _plugin_kinds(field: fields.Field) -> Mapping[str, type[Rule]]:
    root = field.root
    return getattr(root, "extra_kinds", {}) if root is not None else {}


def _plugin_rule(cls: type[Rule], value: dict[str, Any]) -> dict[str, Any]:
    """A plugin kind validates itself: its own schema if it has one, else ``from_config``."""
    schema = getattr(cls, "schema", None)
    if schema is not None:
        return schema().load(value)
    try:
        cls.from_config({"id": value.get("id", cls.kind), **value})
    except errors.LoyaltyError as error:
        raise ValidationError({error.field or "_schema": [error.message]}) from None
    except (KeyError, TypeError, ValueError, ArithmeticError) as error:
        raise ValidationError(f"invalid {cls.kind} rule: {error!r}") from None
    return dict(value)


# -- programs -----------------------------------------------------------------------------


class AudienceSchema(Schema):
    customers = fields.String(
        validate=validate.OneOf(["everyone", "enrolled"]), load_default="everyone"
    )
    groups = Names(load_default=list)
    levels = Names(load_default=list)


class EarningBaseSchema(Schema):
    include_tax = fields.Boolean(load_default=False)
    include_shipping = fields.Boolean(load_default=False)
    deduct_discounts = fields.Boolean(load_default=True)
    points_payments_earn = fields.Boolean(load_default=False)
    minimum_amount = DecimalField(load_default=Decimal(0))
    rounding = Choice(Rounding, load_default=Rounding.DOWN.value)
    rounding_scope = Choice(RoundingScope, load_default=RoundingScope.INVOICE.value)
    excluded_tags = Names(load_default=lambda: sorted(DEFAULT_EXCLUDED_TAGS))


class ProgramSettingsSchema(Schema):
    """Everything a program version holds. Every field has a documented default."""

    def __init__(self, *, extra_kinds: Mapping[str, type[Rule]] | None = None, **kw: Any):
        super().__init__(**kw)
        self.extra_kinds = dict(extra_kinds or {})

    currency = CurrencyField(required=True)
    priority = fields.Integer(strict=True, load_default=0, validate=validate.Range(-1000, 1000))
    combination = Choice(Combination, load_default=Combination.STACK.value)
    #: Rules of one criteria group earning on one line: absent means ``add``, as before.
    conflicts = Choice(Conflicts)
    starts_at = AwareDateTime(allow_none=True, load_default=None)
    ends_at = AwareDateTime(allow_none=True, load_default=None)
    audience = fields.Nested(AudienceSchema)
    earning = fields.Nested(EarningBaseSchema)
    earn_on = Choice(EarnOn, load_default=EarnOn.FULL_PAYMENT.value)
    pending_days = fields.Integer(strict=True, load_default=0, validate=validate.Range(0, 365))
    reversal = Choice(ReversalPolicy, load_default=ReversalPolicy.OTHER_LOTS.value)
    level_multipliers = fields.Dict(
        keys=fields.String(validate=validate.Length(1, 64)),
        values=DecimalField(),
        load_default=dict,
    )
    categories = fields.Dict(
        keys=fields.String(validate=validate.Length(1, 64)),
        values=fields.String(allow_none=True, validate=validate.Length(1, 64)),
        load_default=dict,
    )
    rules = fields.List(RuleField(), load_default=list)
    expiry = fields.Dict(keys=fields.String(), load_default=dict)
    redemption = fields.Dict(keys=fields.String(), load_default=dict)
    #: Membership levels: see docs/levels.md.
    levels = fields.Dict(keys=fields.String(), load_default=dict)

    @pre_load
    def _nested_defaults(self, data: Any, **_kwargs: Any) -> Any:
        """Fill the nested objects too, so stored settings spell out every default."""
        if isinstance(data, dict):
            data = {"audience": {}, "earning": {}, **data}
        return data

    @validates_schema(skip_on_field_errors=False)
    def _nothing_unused(self, data: dict[str, Any], **_kwargs: Any) -> None:
        """Refuse expiry and redemption fields a program would never use (with the rest)."""
        unused = {
            name: problems
            for name, problems in (
                ("expiry", _unused(data.get("expiry") or {}, PROGRAM_EXPIRY_FIELDS)),
                ("redemption", _unused(data.get("redemption") or {}, PROGRAM_REDEMPTION_FIELDS)),
            )
            if problems
        }
        levels = _unknown_level_fields(data.get("levels") or {})
        if levels:
            unused["levels"] = levels
        bad_value = _point_value_problems((data.get("redemption") or {}).get("point_value"))
        if bad_value:
            unused.setdefault("redemption", {})["point_value"] = bad_value
        if unused:
            raise ValidationError(unused)

    @validates_schema
    def _consistent(self, data: dict[str, Any], **_kwargs: Any) -> None:
        starts, ends = data.get("starts_at"), data.get("ends_at")
        if starts and ends and ends <= starts:
            raise ValidationError("must be after starts_at", "ends_at")
        try:
            CategoryTree(dict(data.get("categories") or {}))
        except errors.ValidationError as error:
            raise ValidationError(error.message, "categories") from None
        try:
            expiry_policy_from(data.get("expiry") or {})
        except errors.ValidationError as error:
            raise ValidationError({error.field or "_schema": [error.message]}, "expiry") from None
        except (TypeError, ValueError) as error:
            raise ValidationError(f"invalid expiry settings: {error}", "expiry") from None
        try:
            scheme_from_settings(data.get("levels") or {})
        except errors.ValidationError as error:
            where = (error.field or "levels").removeprefix("levels.")
            raise ValidationError({where: [error.message]}, "levels") from None
        self._rule_ids(data.get("rules") or [])

    @staticmethod
    def _rule_ids(rules: list[dict[str, Any]]) -> None:
        """Give each rule without an ``id`` its kind as id; ids must then be unique."""
        seen: dict[str, int] = {}
        for index, rule in enumerate(rules):
            rule.setdefault("id", rule["kind"])
            if rule["id"] in seen:
                raise ValidationError(
                    {
                        index: {
                            "id": [
                                f"{rule['id']!r} is already the id of rule {seen[rule['id']]}; "
                                "give each rule its own id"
                            ]
                        }
                    },
                    "rules",
                )
            seen[rule["id"]] = index


class ProgramSchema(ProgramSettingsSchema):
    """A whole program as created through the API or written in the declarative file."""

    key = fields.String(
        required=True,
        validate=validate.Regexp(KEY_PATTERN, error="use 1-64 of a-z, 0-9, - and _"),
    )
    name = fields.String(required=True, validate=validate.Length(1, 200))
    status = Choice(ProgramStatus, load_default=ProgramStatus.DRAFT.value)
    #: When the settings take effect (default: now, or the activation date).
    effective_from = AwareDateTime(load_default=None, allow_none=True)


class ProgramFileSchema(Schema):
    """The declarative file: ``{"format": "loyalty-programs/1", "programs": [...]}``."""

    def __init__(self, *, extra_kinds: Mapping[str, type[Rule]] | None = None, **kw: Any):
        super().__init__(**kw)
        self.extra_kinds = dict(extra_kinds or {})

    format = fields.String(required=True, validate=validate.Equal(FILE_FORMAT))
    merchant = fields.String(load_default=None, allow_none=True)
    programs = fields.List(fields.Raw(), required=True)
    #: Bonus campaigns (#18), checked one by one by
    #: :func:`loyalty_plugin.schemas.bonus_campaigns.load_bonus_campaign`.
    bonus_campaigns = fields.List(fields.Raw(), load_default=None)


def split_definition(data: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A loaded program as (identity fields, versioned settings as JSON)."""
    identity = {k: data.get(k) for k in IDENTITY_FIELDS}
    settings = to_json({k: v for k, v in data.items() if k not in IDENTITY_FIELDS})
    return identity, settings


def load_program(
    data: Any,
    *,
    default_currency: str | None = None,
    extra_kinds: Iterable[type[Rule]] = (),
    partial_settings: Mapping[str, Any] | None = None,
    prefix: str = "",
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Validate one program; returns its identity fields and its settings as stored JSON.

    ``partial_settings`` are the settings being changed: fields absent from ``data`` keep
    their value there (an update). Raises :class:`InvalidProgram`.
    """
    if not isinstance(data, dict):
        raise InvalidProgram({"_schema": ["a program must be an object"]}, prefix=prefix)
    merged = {**(partial_settings or {}), **data}
    if default_currency and "currency" not in merged:
        merged["currency"] = default_currency
    kinds = {cls.kind: cls for cls in extra_kinds}
    try:
        loaded = ProgramSchema(extra_kinds=kinds).load(merged)
    except ValidationError as error:
        raise InvalidProgram(flatten_errors(error.messages), prefix=prefix) from None
    return split_definition(loaded)


def load_programs(
    programs: list[Any],
    currency: str,
    extra_kinds: Iterable[type[Rule]],
    *,
    prefix: str = "programs.",
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Validate every program of a file, reporting all errors at once (keys are unique)."""
    checked, problems, seen = [], {}, {}
    for index, item in enumerate(programs):
        try:
            checked.append(
                load_program(
                    item,
                    default_currency=currency,
                    extra_kinds=extra_kinds,
                    prefix=f"{prefix}{index}.",
                )
            )
        except InvalidProgram as error:
            problems.update(error.fields)
            continue
        key = checked[-1][0]["key"]
        if key in seen:
            problems[f"{prefix}{index}.key"] = [f"{key!r} is already program {seen[key]}"]
        seen[key] = index
    if problems:
        raise InvalidProgram(problems)
    return checked


def load_settings_update(data: Any) -> dict[str, Any]:
    """The fields of an update request, checked for shape only (the merge is re-validated)."""
    if not isinstance(data, dict):
        raise InvalidProgram({"_schema": ["the body must be an object"]})
    if "key" in data:
        raise InvalidProgram({"key": ["a program's key cannot change"]})
    return dict(data)


def load_file(data: Any) -> dict[str, Any]:
    """The envelope of a declarative file (programs are validated one by one)."""
    try:
        return ProgramFileSchema().load(data)
    except ValidationError as error:
        raise InvalidProgram(flatten_errors(error.messages)) from None


# -- API bodies and answers -----------------------------------------------------------------


class ProgramBodySchema(Schema):
    """A program sent to the API: documented here, validated by :func:`load_program`.

    Unknown fields pass through so that :func:`load_program` can name them in its errors.
    """

    class Meta:
        unknown = INCLUDE

    key = fields.String(metadata={"example": "main"})
    name = fields.String(metadata={"example": "Points on every purchase"})
    status = fields.String(metadata={"description": "draft (default), active or archived"})
    effective_from = fields.Raw(metadata={"description": "ISO 8601; default: now"})
    currency = fields.String(metadata={"description": "default: the merchant's"})
    priority = fields.Raw()
    combination = fields.Raw(metadata={"description": "stack, best or exclusive"})
    conflicts = fields.Raw(metadata={"description": "add (default), most_specific or best"})
    starts_at = fields.Raw()
    ends_at = fields.Raw()
    audience = fields.Raw()
    earning = fields.Raw()
    earn_on = fields.Raw(metadata={"description": "full_payment or each_payment"})
    pending_days = fields.Raw()
    reversal = fields.Raw(
        metadata={"description": "other_lots, reverse_remaining or negative_balance"}
    )
    level_multipliers = fields.Raw()
    categories = fields.Raw()
    rules = fields.Raw(metadata={"description": "see docs/programs.md for every kind"})
    expiry = fields.Raw()
    redemption = fields.Raw()
    levels = fields.Raw(metadata={"description": "membership levels; see docs/levels.md"})


class ActivateArgsSchema(Schema):
    effective_from = AwareDateTime(
        load_default=None, allow_none=True, metadata={"description": "default: now"}
    )


class ProgramOutSchema(ProgramBodySchema):
    """A program as the API answers: identity, status, newest version and its settings."""

    version = fields.Integer()


class ProgramListSchema(Schema):
    data = fields.List(fields.Nested(ProgramOutSchema))


class ProgramVersionOutSchema(Schema):
    version = fields.Integer()
    effective_from = fields.String()
    created_at = fields.String()
    created_by = fields.String()
    settings = fields.Dict()


class ProgramVersionListSchema(Schema):
    data = fields.List(fields.Nested(ProgramVersionOutSchema))
