"""marshmallow schema of a merchant's whole configuration: one document, one validation.

``loyalty config export|import|diff`` read and write it. Each top-level section is
optional: a section left out is left as it is; inside a section, a field left out takes
its default. Unknown fields are refused, and every error names its path in the document
(``programs[0].rules[2].points``), all errors at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from loyalty_plugin.domain import errors
from loyalty_plugin.domain.expiry import DEFAULT_REMINDER_DAYS, ExpiryKind, ExpiryPolicy
from loyalty_plugin.domain.notifications import Message, check_locale
from loyalty_plugin.domain.rules import Rule
from loyalty_plugin.email.templates import TEMPLATES
from loyalty_plugin.schemas.api import RewardArgsSchema, SettingsSchema
from loyalty_plugin.schemas.programs import InvalidProgram, flatten_errors, load_programs

#: The ``format`` of a configuration document.
CONFIG_FORMAT = "loyalty-config/1"
#: The sections of a document, in the order they are applied and written.
SECTIONS = ("settings", "expiry", "reminders", "emails", "programs", "rewards")


class InvalidConfig(errors.ValidationError):
    """A configuration document failed validation; ``fields`` maps paths to messages."""

    code = "invalid_config"

    def __init__(self, fields: Mapping[str, list[str]]) -> None:
        self.fields = {bracket_path(path): list(messages) for path, messages in fields.items()}
        first = next(iter(self.fields.items()), ("", ["invalid"]))
        super().__init__(f"{first[0]}: {first[1][0]}", field=first[0] or None)

    def to_dict(self) -> dict[str, object]:
        return {"code": self.code, "message": self.message, "fields": self.fields}


def bracket_path(path: str) -> str:
    """``programs.0.rules.2.per`` as ``programs[0].rules[2].per`` (and a template's
    ``emails.templates.welcome.value.subject`` as ``emails.templates.welcome.subject``)."""
    path = re.sub(r"^(emails\.templates\.[^.]+)\.(?:key|value)(?=\.|$)", r"\1", path)
    return re.sub(r"\.(\d+)(?=\.|$)", r"[\1]", path)


class ConfigSettingsSchema(SettingsSchema):
    """The spending settings, as ``GET /settings`` shows them (point value, caps, coupons)."""

    class Meta:
        exclude = ("updated_at", "updated_by")


class ConfigExpirySchema(Schema):
    """The merchant's expiry policy (what ``loyalty expiry set`` sets, but the reminders)."""

    kind = fields.Enum(ExpiryKind, by_value=True, load_default=ExpiryKind.NEVER)
    days = fields.Integer(strict=True, allow_none=True, load_default=None)
    extra_months = fields.Integer(strict=True, load_default=0)
    fixed_date = fields.Date(allow_none=True, load_default=None)
    inactivity_months = fields.Integer(strict=True, allow_none=True, load_default=None)

    @validates_schema
    def _a_policy(self, data: dict[str, Any], **_kwargs: Any) -> None:
        try:
            ExpiryPolicy(**data)
        except errors.ValidationError as error:
            raise ValidationError(error.message, error.field or "_schema") from None


class ConfigRemindersSchema(Schema):
    """Days before points, and coupons, expire at which customers are reminded."""

    points_expiring_days = fields.List(
        fields.Integer(strict=True, validate=validate.Range(1, 3650)),
        load_default=lambda: list(DEFAULT_REMINDER_DAYS),
        validate=validate.Length(0, 10),
    )
    coupon_expiring_days = fields.Integer(
        strict=True, load_default=7, validate=validate.Range(1, 365)
    )


class TemplateEditSchema(Schema):
    """A merchant's edit of one e-mail template (checked in the sandbox when applied)."""

    subject = fields.String(required=True, validate=validate.Length(1, 500))
    body_text = fields.String(required=True)
    body_html = fields.String(required=True)


SwitchesSchema = Schema.from_dict(
    {message.value: fields.Boolean(load_default=True) for message in Message},
    name="SwitchesSchema",
)


def _known_locale(name: str) -> bool:
    try:
        check_locale(name)
    except errors.ValidationError as error:
        raise ValidationError(error.message) from None
    return True


class ConfigEmailsSchema(Schema):
    """Which e-mails are sent, consent, locale, and the templates the merchant edited."""

    switches = fields.Nested(SwitchesSchema, load_default=dict)
    service_needs_consent = fields.Boolean(load_default=False)
    locale = fields.String(load_default="en", validate=lambda name: _known_locale(name))
    reply_to = fields.Email(allow_none=True, load_default=None)
    #: Templates listed are the merchant's edits; any other goes back to its default.
    templates = fields.Dict(
        keys=fields.String(validate=validate.OneOf(sorted(TEMPLATES))),
        values=fields.Nested(TemplateEditSchema),
    )


class ConfigRewardSchema(RewardArgsSchema):
    """A catalogue reward, known in the document by its ``name``."""

    class Meta:
        exclude = ("merchant_id",)

    active = fields.Boolean(load_default=True)


class ConfigDocumentSchema(Schema):
    """``{"format": "loyalty-config/1", "settings": {...}, "programs": [...], ...}``."""

    format = fields.String(required=True, validate=validate.Equal(CONFIG_FORMAT))
    #: The merchant the document was exported from (informational: any merchant may import).
    merchant = fields.String(allow_none=True, load_default=None)
    settings = fields.Nested(ConfigSettingsSchema)
    expiry = fields.Nested(ConfigExpirySchema)
    reminders = fields.Nested(ConfigRemindersSchema)
    emails = fields.Nested(ConfigEmailsSchema)
    #: Checked one by one by :func:`loyalty_plugin.schemas.programs.load_programs`.
    programs = fields.List(fields.Raw())
    #: Checked one by one by the bonus campaign service when imported.
    bonus_campaigns = fields.List(fields.Raw())
    rewards = fields.List(fields.Nested(ConfigRewardSchema))

    @validates_schema(skip_on_field_errors=False)
    def _unique_reward_names(self, data: dict[str, Any], **_kwargs: Any) -> None:
        seen: dict[str, int] = {}
        for index, reward in enumerate(data.get("rewards") or ()):
            if not isinstance(reward, dict) or "name" not in reward:
                continue
            if reward["name"] in seen:
                message = f"{reward['name']!r} is already reward {seen[reward['name']]}"
                raise ValidationError({index: {"name": [message]}}, "rewards")
            seen[reward["name"]] = index


def load_config(
    data: Any, *, currency: str, extra_kinds: Iterable[type[Rule]] = ()
) -> dict[str, Any]:
    """Validate a whole document; raises :class:`InvalidConfig` listing every problem.

    Programs come back as the program file's items, checked; ``currency`` is the default
    of programs that name none (the importing merchant's).
    """
    if not isinstance(data, dict):
        raise InvalidConfig({"_schema": ["a configuration document is a JSON object"]})
    problems: dict[str, list[str]] = {}
    try:
        loaded = ConfigDocumentSchema().load(data)
    except ValidationError as error:
        problems.update(flatten_errors(error.messages))
        loaded = {}
    programs = data.get("programs")
    if isinstance(programs, list):
        try:
            load_programs(programs, currency, extra_kinds)
        except InvalidProgram as error:
            problems.update(error.fields)
    if problems:
        raise InvalidConfig(problems)
    return loaded
