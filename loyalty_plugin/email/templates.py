"""The e-mail templates: their default files and the variables each one may use.

Defaults live in ``loyalty_plugin/email_templates/<name>/`` (``subject.txt``,
``body.txt``, ``body.html``) and ship inside the wheel as package data; the repository's
top-level ``email_templates`` is a symlink to that folder. A merchant's edits are stored in
the database (:class:`loyalty_plugin.models.EmailTemplate`) and replace the defaults.

Every template gets the common variables (``merchant``, ``customer``, ``balance``,
``level``, ``links``) plus its own. Nothing else is available: an edit that uses another
name, or an attribute not listed here, is refused when it is saved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from loyalty_plugin.domain.notifications import CATEGORIES, Category, Message

#: Where the default templates are: inside the package, so they ship in the wheel.
DEFAULTS_DIR = Path(__file__).resolve().parent.parent / "email_templates"
#: The three files of a template.
PARTS = ("subject", "body_text", "body_html")
_FILES = {"subject": "subject.txt", "body_text": "body.txt", "body_html": "body.html"}


@dataclass(frozen=True, slots=True)
class Variable:
    """One template variable: what it holds, a sample value, and its attributes if any."""

    name: str
    description: str
    sample: Any
    #: For objects: attribute name -> description (``customer.first_name``...).
    fields: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Sources:
    """The Jinja source of a template's three parts."""

    subject: str
    body_text: str
    body_html: str


@dataclass(frozen=True, slots=True)
class TemplateSpec:
    """A template: its name, category, purpose and variables."""

    name: str
    description: str
    variables: tuple[Variable, ...]

    @property
    def category(self) -> Category:
        """Service or marketing (marketing needs consent and an unsubscribe link)."""
        return CATEGORIES[Message(self.name)]

    @property
    def variable_names(self) -> frozenset[str]:
        return frozenset(v.name for v in self.variables)

    def sample_context(self) -> dict[str, Any]:
        """Sample data for previews and for checking an edit."""
        return {v.name: v.sample for v in self.variables}

    def fields_of(self, name: str) -> dict[str, str]:
        """The attributes of variable ``name`` (empty for plain values)."""
        return next((v.fields for v in self.variables if v.name == name), {})


COMMON = (
    Variable(
        "merchant",
        "the business sending the e-mail",
        {"name": "Café Lumière"},
        {"name": "its name"},
    ),
    Variable(
        "customer",
        "the customer the e-mail goes to",
        {
            "first_name": "Ana",
            "last_name": "Silva",
            "name": "Ana Silva",
            "email": "ana@example.com",
        },
        {
            "first_name": "first name",
            "last_name": "last name (may be empty)",
            "name": "first and last name",
            "email": "e-mail address",
        },
    ),
    Variable("balance", "points balance (after the change the e-mail is about)", 575),
    Variable("level", "the customer's level, or nothing when levels are not used", "Gold"),
    Variable(
        "links",
        "links for the customer",
        {
            "portal": "https://loyalty.example.com/loyalty/portal",
            "unsubscribe": "https://loyalty.example.com/loyalty/email/unsubscribe/sample",
        },
        {
            "portal": "the customer's points page",
            "unsubscribe": "stop marketing e-mails (required in marketing e-mails)",
        },
    ),
)

_EXPIRES_ON = Variable(
    "expires_on", "the last day the points can be used (a date)", date(2026, 4, 30)
)
_DAYS_LEFT = Variable("days_left", "whole days until then", 30)
_CREDIT_ON = Variable(
    "expires_on", "the last day the store credit can be spent (a date)", date(2027, 1, 31)
)


def _credit(what: str) -> Variable:
    """The ``credit`` variable of the store credit e-mails (money, never points)."""
    return Variable(
        "credit",
        "store credit (money, in one currency)",
        {"amount": Decimal("4.20"), "currency": "EUR", "balance": Decimal("12.50")},
        {
            "amount": f"{what} (money: format with money(credit.currency))",
            "currency": "its currency (ISO 4217)",
            "balance": "the customer's store credit in that currency after it",
        },
    )


TEMPLATES: dict[str, TemplateSpec] = {
    spec.name: spec
    for spec in (
        TemplateSpec(
            "points_earned",
            "receipt for points earned (an invoice, a bonus)",
            (
                *COMMON,
                Variable("points", "points earned", 120),
                Variable("reference", "what they were earned on (e.g. invoice:INV-1042)", None),
            ),
        ),
        TemplateSpec(
            "points_expiring",
            "reminder before points expire (sent at each reminder offset)",
            (*COMMON, Variable("points", "points that will expire", 500), _EXPIRES_ON, _DAYS_LEFT),
        ),
        TemplateSpec(
            "points_expired",
            "notice after points expired",
            (
                *COMMON,
                Variable("points", "points that expired", 500),
                Variable(
                    "inactivity_months",
                    "months without activity, when points expired for inactivity",
                    None,
                ),
            ),
        ),
        TemplateSpec(
            "credit_expiring",
            "reminder before store credit expires (at each reminder offset, per currency)",
            (*COMMON, _credit("store credit that will expire"), _CREDIT_ON, _DAYS_LEFT),
        ),
        TemplateSpec(
            "credit_expired",
            "notice after store credit expired (per currency)",
            (*COMMON, _credit("store credit that expired")),
        ),
        TemplateSpec(
            "level_changed",
            "the customer moved to another level (``level`` is the new one)",
            (*COMMON, Variable("previous_level", "the level before, if any", "Silver")),
        ),
        TemplateSpec(
            "coupon_expiring",
            "reminder before an unused coupon expires",
            (
                *COMMON,
                Variable(
                    "coupon",
                    "the coupon",
                    {
                        "code": "K7QX-M2PD-9HTA",
                        "amount": Decimal("5.00"),
                        "currency": "EUR",
                        "percent": None,
                    },
                    {
                        "code": "the code to give at checkout",
                        "amount": "amount off (money), if an amount coupon",
                        "currency": "currency of the amount",
                        "percent": "percentage off, if a percent coupon",
                    },
                ),
                Variable(
                    "expires_on", "the last day the coupon can be used (a date)", date(2026, 4, 30)
                ),
                _DAYS_LEFT,
            ),
        ),
        TemplateSpec(
            "birthday",
            "birthday greeting (marketing)",
            (*COMMON, Variable("points", "points this year's birthday bonus gave (0: none)", 100)),
        ),
        TemplateSpec("welcome", "welcome on joining the programme (marketing)", COMMON),
        TemplateSpec(
            "portal_link",
            "a new link to the customer's points page, asked for by them or by staff",
            (*COMMON, Variable("valid_days", "how many days the link works", 30)),
        ),
    )
}


def get_spec(name: str) -> TemplateSpec:
    """The spec of template ``name``; ``KeyError`` naming the known ones."""
    try:
        return TEMPLATES[name]
    except KeyError:
        raise KeyError(f"no e-mail template {name!r}; known: {', '.join(TEMPLATES)}") from None


def default_sources(name: str) -> Sources:
    """The shipped default of template ``name``."""
    get_spec(name)
    folder = DEFAULTS_DIR / name
    return Sources(**{part: (folder / _FILES[part]).read_text("utf-8") for part in PARTS})
