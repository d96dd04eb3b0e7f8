"""Rule kinds: each a small frozen class that turns an invoice or an event into awards.

A rule never rounds: it returns :class:`Award` objects with exact ``Decimal`` points and
says which line (or ``None`` for the whole invoice) and which money base gave them.
Built-in kinds register themselves with :func:`register_rule_kind`; plugin kinds are passed
to :func:`build_rule` in ``extra_kinds`` (the app collects them through a hook), so a test
app never leaks its kinds into another.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar, Self, TypeVar

from loyalty_plugin.domain.credit import CreditReward
from loyalty_plugin.domain.errors import ValidationError
from loyalty_plugin.domain.rules.conditions import Conditions, MerchantFacts
from loyalty_plugin.domain.rules.invoice import CustomerView, InvoiceView
from loyalty_plugin.domain.rules.lines import BaseLine
from loyalty_plugin.domain.rules.settings import CategoryTree, Exclusions, Limit, Period

ZERO = Decimal(0)

#: What can make a rule earn.
INVOICE = "invoice"
REGISTRATION = "registration"
BIRTHDAY = "birthday"
CUSTOM = "custom"
#: The kind of an award a bonus campaign gave (:mod:`loyalty_plugin.domain.bonus_campaigns`):
#: whole points, already multiplied, so the level multiplier leaves it alone.
BONUS_CAMPAIGN = "bonus_campaign"


@dataclass(frozen=True, slots=True, kw_only=True)
class Award:
    """Exact points one rule gave, on one line or (``line=None``) on the whole invoice."""

    rule: str
    kind: str
    exact: Decimal
    line: str | None = None
    #: The money the points were computed on, in the program's currency.
    base: Decimal | None = None
    #: A short human note: the bracket, the units counted...
    note: str | None = None


_new = object.__new__
_SETTERS = tuple(Award.__dict__[name].__set__ for name in ("rule", "kind", "exact", "line", "base"))
_SET_NOTE = Award.__dict__["note"].__set__


def line_award(
    rule: str, kind: str, exact: Decimal, line: str | None, base: Decimal | None, note: str | None
) -> Award:
    """The same :class:`Award` as the constructor makes, at half its cost.

    A frozen dataclass sets each field through ``object.__setattr__``; the slots' own
    setters do the same work without it. A 200-line invoice makes thousands of awards.
    """
    award = _new(Award)
    set_rule, set_kind, set_exact, set_line, set_base = _SETTERS
    set_rule(award, rule)
    set_kind(award, kind)
    set_exact(award, exact)
    set_line(award, line)
    set_base(award, base)
    _SET_NOTE(award, note)
    return award


@dataclass(frozen=True, slots=True, kw_only=True)
class InvoiceContext:
    """Everything a rule may read about an invoice, computed once per program."""

    invoice: InvoiceView
    #: The lines that earn at all under the program (its excluded tags already left out).
    lines: tuple[BaseLine, ...]
    customer: CustomerView
    categories: CategoryTree
    #: Invoice money to program money (for the transaction fee).
    rate: Decimal

    def lines_for(self, rule: Rule) -> Iterable[BaseLine]:
        """The lines ``rule`` may earn on after its own exclusions and ``what`` conditions."""
        exclude, what = rule.exclude, rule.conditions.what
        lines: Iterable[BaseLine] = self.lines
        if exclude.products or exclude.categories or exclude.tags:
            lines = [bl for bl in lines if not exclude.leaves_out_line(bl.line, self.categories)]
        if what:
            lines = [bl for bl in lines if what.selects(bl.line, self.categories)]
        return lines

    def amount_for(self, rule: Rule) -> Decimal:
        """The total earning amount left to ``rule``."""
        return sum((bl.amount for bl in self.lines_for(rule)), ZERO)


@dataclass(frozen=True, slots=True, kw_only=True)
class EventContext:
    """A non-invoice trigger: a registration, a birthday or a host-defined custom event."""

    trigger: str
    customer: CustomerView
    name: str | None = None
    properties: Mapping[str, Any] = field(default_factory=dict)
    #: When the event happened, and the merchant's facts: rule conditions read them.
    at: datetime | None = None
    merchant: MerchantFacts = field(default_factory=MerchantFacts)


def decimal(value: object) -> Decimal:
    """A stored decimal (a string, an int or a Decimal) as ``Decimal``; never from a float."""
    if isinstance(value, bool | float) or not isinstance(value, str | int | Decimal):
        raise ValidationError(f"expected a decimal string, got {type(value).__name__}")
    return Decimal(value)


@dataclass(frozen=True, slots=True)
class Ratio:
    """``points`` per ``per`` of money (1 point per 10.00 is ``Ratio(1, 10)``)."""

    points: Decimal
    per: Decimal

    def of(self, amount: Decimal) -> Decimal:
        return amount * self.points / self.per

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Ratio:
        return cls(decimal(config["points"]), decimal(config["per"]))


@dataclass(frozen=True, kw_only=True)
class Rule:
    """Base of every rule kind. Subclasses set ``kind`` and override one ``*_awards``."""

    #: The ``kind`` written in a program's rule list.
    kind: ClassVar[str] = ""
    #: The triggers the kind reacts to.
    triggers: ClassVar[frozenset[str]] = frozenset({INVOICE})
    #: Default limit of an event kind (``None``: no limit).
    default_limit: ClassVar[Limit | None] = None

    id: str
    exclude: Exclusions = field(default_factory=Exclusions)
    limit: Limit | None = None
    #: When, where, through which channel, for whom and on what the rule earns.
    conditions: Conditions = field(default_factory=Conditions)
    #: The criteria group: rules of one group compete for a line when the program's
    #: ``conflicts`` setting is not ``add``.
    group: str = ""
    #: Store credit the rule gives besides (or instead of) its points (issue #19).
    reward: CreditReward | None = None

    @property
    def specificity(self) -> int:
        """How specific the rule's lines are: 3 products, 2 categories, 1 tags, 0 all."""
        return self.conditions.what.specificity

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Self:
        """Build from a validated rule object (the JSON stored in a program version)."""
        return cls(**cls.common(config), **cls.options(config))

    @classmethod
    def common(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        """The fields every rule has: ``id``, ``exclude``, ``limit``, ``conditions``,
        ``group`` and ``reward``."""
        limit = config.get("limit")
        return {
            "id": str(config["id"]),
            "conditions": Conditions.from_config(config.get("conditions")),
            "group": str(config.get("group") or ""),
            "exclude": Exclusions.from_config(config.get("exclude")),
            "reward": CreditReward.from_config(config.get("reward")),
            "limit": (
                Limit(int(limit["count"]), Period(limit["per"])) if limit else cls.default_limit
            ),
        }

    @classmethod
    def options(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        """The kind's own fields from ``config``."""
        return {}

    def invoice_awards(self, ctx: InvoiceContext) -> list[Award]:
        """Exact points on an invoice (default: none)."""
        return []

    def event_awards(self, ctx: EventContext) -> list[Award]:
        """Exact points for an event (default: none)."""
        return []

    def award(self, exact: Decimal, **more: Any) -> Award:
        """An award of this rule: ``line``, ``base`` and ``note`` as keywords."""
        return Award(rule=self.id, kind=self.kind, exact=exact, **more)


_KINDS: dict[str, type[Rule]] = {}
R = TypeVar("R", bound=type[Rule])


def register_rule_kind(cls: R) -> R:
    """Make a built-in rule kind known by its ``kind`` (a class decorator)."""
    if not cls.kind:
        raise ValueError(f"{cls.__name__} has no kind")
    if _KINDS.get(cls.kind, cls) is not cls:
        raise ValueError(f"rule kind {cls.kind!r} is already registered")
    _KINDS[cls.kind] = cls
    return cls


def rule_kinds(extra: Iterable[type[Rule]] = ()) -> dict[str, type[Rule]]:
    """Built-in kinds plus ``extra`` (plugin kinds); a plugin cannot replace a built-in."""
    kinds = dict(_KINDS)
    for cls in extra:
        if cls.kind in _KINDS:
            raise ValueError(f"rule kind {cls.kind!r} is built in; choose another name")
        kinds[cls.kind] = cls
    return kinds


def build_rule(config: Mapping[str, Any], *, kinds: Mapping[str, type[Rule]]) -> Rule:
    """The rule a stored rule object describes."""
    cls = kinds.get(str(config.get("kind")))
    if cls is None:
        raise ValidationError(
            f"unknown rule kind {config.get('kind')!r}; known: {', '.join(sorted(kinds))}",
            field="kind",
        )
    return cls.from_config(config)


def _per_line(rule: Rule, ctx: InvoiceContext, ratio: Ratio) -> list[Award]:
    rule_id, kind, points, per = rule.id, rule.kind, ratio.points, ratio.per
    return [
        line_award(rule_id, kind, amount * points / per, bl.line.id, amount, None)
        for bl in ctx.lines_for(rule)
        if (amount := bl.amount) > 0
    ]


@register_rule_kind
@dataclass(frozen=True, kw_only=True)
class PerAmount(Rule):
    """N points per M money spent, on every line that earns: ``1 point per 10.00``."""

    kind: ClassVar[str] = "per_amount"
    ratio: Ratio

    @classmethod
    def options(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        return {"ratio": Ratio.from_config(config)}

    def invoice_awards(self, ctx: InvoiceContext) -> list[Award]:
        return _per_line(self, ctx, self.ratio)


@register_rule_kind
@dataclass(frozen=True, kw_only=True)
class TransactionFee(Rule):
    """Points from the invoice's ``transaction_fee`` at a ratio (a 220 fee gives 220)."""

    kind: ClassVar[str] = "transaction_fee"
    ratio: Ratio

    @classmethod
    def options(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        return {"ratio": Ratio.from_config(config)}

    def invoice_awards(self, ctx: InvoiceContext) -> list[Award]:
        fee = ctx.invoice.transaction_fee * ctx.rate
        if fee <= 0 or not ctx.lines:
            return []
        return [self.award(self.ratio.of(fee), base=fee, note="transaction fee")]


@dataclass(frozen=True, kw_only=True)
class _Selected(Rule):
    """Fixed points per unit, or a ratio on the line amount, for the lines selected."""

    per_unit: Decimal | None = None
    ratio: Ratio | None = None

    @classmethod
    def options(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        if config.get("points_per_unit") is not None:
            return {"per_unit": decimal(config["points_per_unit"])}
        return {"ratio": Ratio.from_config(config)}

    def selects(self, bl: BaseLine, ctx: InvoiceContext) -> bool:
        raise NotImplementedError

    def invoice_awards(self, ctx: InvoiceContext) -> list[Award]:
        awards = []
        rule_id, kind, per_unit, ratio = self.id, self.kind, self.per_unit, self.ratio
        for bl in ctx.lines_for(self):
            if bl.synthetic or not self.selects(bl, ctx):
                continue
            line = bl.line
            if per_unit is not None:
                exact = line.qty * per_unit
                awards.append(
                    line_award(rule_id, kind, exact, line.id, None, f"{line.qty} unit(s)")
                )
            elif ratio is not None and bl.amount > 0:
                awards.append(
                    line_award(rule_id, kind, ratio.of(bl.amount), line.id, bl.amount, None)
                )
        return awards


@register_rule_kind
@dataclass(frozen=True, kw_only=True)
class ProductRule(_Selected):
    """Points on the lines of given products (matched by ``product_id`` or ``sku``)."""

    kind: ClassVar[str] = "product"
    products: frozenset[str] = frozenset()

    @classmethod
    def options(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        return super().options(config) | {"products": frozenset(config["products"])}

    @property
    def specificity(self) -> int:
        return 3

    def selects(self, bl: BaseLine, ctx: InvoiceContext) -> bool:
        return bl.line.product_id in self.products or bl.line.sku in self.products


@register_rule_kind
@dataclass(frozen=True, kw_only=True)
class CategoryRule(_Selected):
    """Points on the lines of given categories and of all their child categories."""

    kind: ClassVar[str] = "category"
    categories: frozenset[str] = frozenset()

    @classmethod
    def options(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        return super().options(config) | {"categories": frozenset(config["categories"])}

    @property
    def specificity(self) -> int:
        return max(2, self.conditions.what.specificity)

    def selects(self, bl: BaseLine, ctx: InvoiceContext) -> bool:
        return ctx.categories.within(bl.line.category_id, self.categories)


@dataclass(frozen=True, kw_only=True)
class _Fixed(Rule):
    points: int = 0

    @classmethod
    def options(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        return {"points": int(config["points"])}


@register_rule_kind
@dataclass(frozen=True, kw_only=True)
class PerOrder(_Fixed):
    """Fixed points for every order that earns."""

    kind: ClassVar[str] = "per_order"

    def invoice_awards(self, ctx: InvoiceContext) -> list[Award]:
        return [self.award(Decimal(self.points), note="per order")] if ctx.lines else []


@register_rule_kind
@dataclass(frozen=True, kw_only=True)
class FirstPurchase(_Fixed):
    """Fixed bonus points on the customer's first earning invoice with the merchant."""

    kind: ClassVar[str] = "first_purchase"

    def invoice_awards(self, ctx: InvoiceContext) -> list[Award]:
        if not (ctx.customer.first_purchase and ctx.lines):
            return []
        return [self.award(Decimal(self.points), note="first purchase")]


@dataclass(frozen=True, slots=True)
class Bracket:
    """Part of an amount scale: from ``start`` (included) up to ``end`` (excluded)."""

    start: Decimal
    end: Decimal | None

    def label(self) -> str:
        return f"{self.start}-{self.end if self.end is not None else ''}"


@register_rule_kind
@dataclass(frozen=True, kw_only=True)
class Progressive(Rule):
    """Marginal rates by brackets, like tax: first 1,000 at 1 per 10, the rest at 2 per 10."""

    kind: ClassVar[str] = "progressive"
    brackets: tuple[tuple[Bracket, Ratio], ...] = ()

    @classmethod
    def options(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        brackets, start = [], ZERO
        for item in config["brackets"]:
            end = None if item.get("up_to") is None else decimal(item["up_to"])
            brackets.append((Bracket(start, end), Ratio.from_config(item)))
            start = end if end is not None else start
        return {"brackets": tuple(brackets)}

    def invoice_awards(self, ctx: InvoiceContext) -> list[Award]:
        amount, awards = ctx.amount_for(self), []
        for bracket, ratio in self.brackets:
            top = amount if bracket.end is None else min(amount, bracket.end)
            slice_ = top - bracket.start
            if slice_ <= 0:
                break
            awards.append(self.award(ratio.of(slice_), base=slice_, note=bracket.label()))
        return awards


@register_rule_kind
@dataclass(frozen=True, kw_only=True)
class Segmented(Rule):
    """The invoice amount falls in a bracket that gives a fixed number of points."""

    kind: ClassVar[str] = "segmented"
    brackets: tuple[tuple[Bracket, int], ...] = ()

    @classmethod
    def options(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        brackets = []
        for item in config["brackets"]:
            end = None if item.get("to") is None else decimal(item["to"])
            brackets.append((Bracket(decimal(item["from"]), end), int(item["points"])))
        return {"brackets": tuple(brackets)}

    def invoice_awards(self, ctx: InvoiceContext) -> list[Award]:
        amount = ctx.amount_for(self)
        for bracket, points in self.brackets:
            if amount >= bracket.start and (bracket.end is None or amount < bracket.end):
                return [self.award(Decimal(points), base=amount, note=bracket.label())]
        return []


@dataclass(frozen=True, kw_only=True)
class _EventBonus(_Fixed):
    def matches(self, ctx: EventContext) -> bool:
        return ctx.trigger in self.triggers

    def event_awards(self, ctx: EventContext) -> list[Award]:
        if not self.matches(ctx) or self.exclude.leaves_out_customer(ctx.customer):
            return []
        return [self.award(Decimal(self.points), note=ctx.name or ctx.trigger)]


@register_rule_kind
@dataclass(frozen=True, kw_only=True)
class Registration(_EventBonus):
    """Points when a customer registers; once ever by default."""

    kind: ClassVar[str] = "registration"
    triggers: ClassVar[frozenset[str]] = frozenset({REGISTRATION})
    default_limit: ClassVar[Limit | None] = Limit(1, Period.EVER)


@register_rule_kind
@dataclass(frozen=True, kw_only=True)
class Birthday(_EventBonus):
    """Points on the customer's birthday; once a year by default."""

    kind: ClassVar[str] = "birthday"
    triggers: ClassVar[frozenset[str]] = frozenset({BIRTHDAY})
    default_limit: ClassVar[Limit | None] = Limit(1, Period.YEAR)


@register_rule_kind
@dataclass(frozen=True, kw_only=True)
class CustomEvent(_EventBonus):
    """Points for an ``event.custom`` of a given name whose properties match ``when``.

    Once ever by default, so that a host event cannot be replayed to farm points.
    """

    kind: ClassVar[str] = "custom_event"
    triggers: ClassVar[frozenset[str]] = frozenset({CUSTOM})
    default_limit: ClassVar[Limit | None] = Limit(1, Period.EVER)
    name: str = ""
    when: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def options(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        return super().options(config) | {
            "name": str(config["name"]),
            "when": dict(config.get("when") or {}),
        }

    def matches(self, ctx: EventContext) -> bool:
        return (
            ctx.trigger == CUSTOM
            and ctx.name == self.name
            and all(ctx.properties.get(k) == v for k, v in self.when.items())
        )
