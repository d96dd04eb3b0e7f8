"""Programs: a version's settings as typed objects, who they admit, and how they combine.

A program *version* is immutable: its settings (rules, earning base, audience, policies)
are stored as validated JSON and read back with :func:`definition_from_settings`. Evaluating
a version on an invoice or an event gives a :class:`ProgramEarning` with every award
explained; :func:`combine` then decides which programs count when several apply.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from functools import cached_property
from typing import Any

from loyalty_plugin.domain.credit import CREDIT, HUNDRED, CreditReward
from loyalty_plugin.domain.expiry import ExpiryKind, ExpiryPolicy
from loyalty_plugin.domain.levels import LevelScheme, scheme_from_settings
from loyalty_plugin.domain.money import minor_digits
from loyalty_plugin.domain.rules import (
    INVOICE,
    Award,
    BaseLine,
    CategoryTree,
    Conversion,
    CustomerView,
    EarningBase,
    EventContext,
    InvoiceContext,
    InvoiceView,
    Rounding,
    RoundingScope,
    Rule,
    Settlement,
    build_rule,
    earning_lines,
    rule_kinds,
    settle,
)
from loyalty_plugin.domain.rules.conditions import (
    ConditionCheck,
    ConditionContext,
    MerchantFacts,
    check_conditions,
)
from loyalty_plugin.domain.rules.index import LineLookup, RuleIndex, keyed_by_what
from loyalty_plugin.domain.rules.kinds import BONUS_CAMPAIGN, decimal
from loyalty_plugin.domain.rules.settlement import SettledAward

ONE = Decimal(1)
ZERO = Decimal(0)


class ProgramStatus(enum.StrEnum):
    """Where a program stands."""

    #: Being prepared: earns nothing, can be simulated and edited in place.
    DRAFT = "draft"
    #: Earns; every change makes a new version from a chosen date.
    ACTIVE = "active"
    #: Stopped for a while: earns nothing until activated again; changes make new versions.
    PAUSED = "paused"
    #: Finished: earns nothing any more; its history stays.
    ARCHIVED = "archived"


class Combination(enum.StrEnum):
    """How a program's points combine with other programs' on the same invoice or event."""

    #: Adds up with every other program (default).
    STACK = "stack"
    #: Only the "best" program giving the most points counts (stacking ones still add).
    BEST = "best"
    #: When it gives points, it is the only program that counts.
    EXCLUSIVE = "exclusive"


class Conflicts(enum.StrEnum):
    """What happens when several rules of one criteria group earn on the same line."""

    #: Every rule adds up (default: how programs always earned).
    ADD = "add"
    #: The most specific rule wins: a product rule over a category rule over the rest.
    MOST_SPECIFIC = "most_specific"
    #: The rule giving the line the most points wins.
    BEST = "best"


class ReversalPolicy(enum.StrEnum):
    """What a refund does when the points to take back were already spent."""

    #: Take the rest from the customer's other spendable points; forgive what still lacks.
    OTHER_LOTS = "other_lots"
    #: Take back only what is left of the points earned; forgive the rest.
    REMAINING = "reverse_remaining"
    #: Take what is left (then other points); the rest is owed and repaid by future earnings.
    NEGATIVE_BALANCE = "negative_balance"


class EarnOn(enum.StrEnum):
    """When an invoice earns."""

    #: Once, when the invoice is paid in full (default).
    FULL_PAYMENT = "full_payment"
    #: A share with each recorded payment, in proportion to the amount, up to the total.
    EACH_PAYMENT = "each_payment"


@dataclass(frozen=True, slots=True, kw_only=True)
class Audience:
    """Who a program is for: everyone, or enrolled customers, of some groups or levels."""

    enrolled_only: bool = False
    groups: frozenset[str] = frozenset()
    levels: frozenset[str] = frozenset()

    def admits(self, customer: CustomerView) -> bool:
        """True when the program applies to ``customer``."""
        if self.enrolled_only and not customer.enrolled:
            return False
        if self.groups and self.groups.isdisjoint(customer.all_groups()):
            return False
        return not self.levels or customer.level in self.levels


@dataclass(frozen=True, kw_only=True)
class ProgramDefinition:
    """One version of a program, ready to evaluate."""

    key: str
    name: str
    currency: str
    program_id: int | None = None
    version: int = 1
    version_id: int | None = None
    priority: int = 0
    combination: Combination = Combination.STACK
    conflicts: Conflicts = Conflicts.ADD
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    audience: Audience = field(default_factory=Audience)
    earning: EarningBase = field(default_factory=EarningBase)
    rules: tuple[Rule, ...] = ()
    categories: CategoryTree = field(default_factory=CategoryTree)
    earn_on: EarnOn = EarnOn.FULL_PAYMENT
    pending_days: int = 0
    reversal: ReversalPolicy = ReversalPolicy.OTHER_LOTS
    level_multipliers: Mapping[str, Decimal] = field(default_factory=dict)
    #: Expiry settings (the expiry issue reads them).
    expiry: Mapping[str, Any] = field(default_factory=dict)
    #: Redemption settings (the spending issue reads them; ``point_value`` for simulations).
    redemption: Mapping[str, Any] = field(default_factory=dict)
    #: Membership levels (``None``: the program has none).
    levels: LevelScheme | None = None

    @cached_property
    def rule_index(self) -> RuleIndex:
        """The rules by what they can match (built once: a version never changes)."""
        return RuleIndex.of(self.rules)

    @cached_property
    def credit_rewards(self) -> dict[str, CreditReward]:
        """The rules that give store credit, by id (empty for a points-only program)."""
        return {rule.id: rule.reward for rule in self.rules if rule.reward is not None}

    def is_live(self, at: datetime) -> bool:
        """True when ``at`` is within the program's start and end dates."""
        return (self.starts_at is None or self.starts_at <= at) and (
            self.ends_at is None or at < self.ends_at
        )

    def multiplier_for(self, customer: CustomerView) -> Decimal:
        """The level multiplier for ``customer`` (1 without a level or a multiplier)."""
        if customer.level is None:
            return ONE
        return self.level_multipliers.get(customer.level, ONE)

    def expiry_policy(self) -> ExpiryPolicy | None:
        """The program's own expiry policy, or ``None`` to use the merchant's."""
        return expiry_policy_from(self.expiry)

    def label(self) -> dict[str, Any]:
        """Which program and version, as stored with every entry it produces."""
        return {
            "id": self.program_id,
            "key": self.key,
            "name": self.name,
            "version": self.version,
            "version_id": self.version_id,
        }


def definition_from_settings(
    settings: Mapping[str, Any],
    *,
    key: str,
    name: str,
    program_id: int | None = None,
    version: int = 1,
    version_id: int | None = None,
    extra_kinds: Iterable[type[Rule]] = (),
) -> ProgramDefinition:
    """A version's stored (already validated) settings as a :class:`ProgramDefinition`."""
    kinds = rule_kinds(extra_kinds)
    levels = scheme_from_settings(settings.get("levels"))
    return ProgramDefinition(
        key=key,
        name=name,
        program_id=program_id,
        version=version,
        version_id=version_id,
        currency=settings["currency"],
        priority=int(settings.get("priority", 0)),
        combination=Combination(settings.get("combination", Combination.STACK)),
        conflicts=Conflicts(settings.get("conflicts", Conflicts.ADD)),
        starts_at=_when(settings.get("starts_at")),
        ends_at=_when(settings.get("ends_at")),
        audience=_audience(settings.get("audience") or {}),
        earning=_earning(settings.get("earning") or {}),
        rules=tuple(build_rule(rule, kinds=kinds) for rule in settings.get("rules", ())),
        categories=CategoryTree(dict(settings.get("categories") or {})),
        earn_on=EarnOn(settings.get("earn_on", EarnOn.FULL_PAYMENT)),
        pending_days=int(settings.get("pending_days", 0)),
        reversal=ReversalPolicy(settings.get("reversal", ReversalPolicy.OTHER_LOTS)),
        level_multipliers=_multipliers(settings, levels),
        expiry=dict(settings.get("expiry") or {}),
        redemption=dict(settings.get("redemption") or {}),
        levels=levels,
    )


def _multipliers(settings: Mapping[str, Any], levels: LevelScheme | None) -> dict[str, Decimal]:
    """Each level's earning multiplier; ``level_multipliers`` wins over the levels' own."""
    found = {lv.key: lv.multiplier for lv in levels.levels} if levels else {}
    for level, value in (settings.get("level_multipliers") or {}).items():
        found[level] = decimal(value)
    return found


def expiry_policy_from(config: Mapping[str, Any]) -> ExpiryPolicy | None:
    """An ``expiry`` settings object as an :class:`ExpiryPolicy` (``{}``: none of its own)."""
    if not config:
        return None
    fixed = config.get("fixed_date")
    return ExpiryPolicy(
        kind=ExpiryKind(config.get("kind", ExpiryKind.NEVER)),
        days=config.get("days"),
        extra_months=int(config.get("extra_months", 0)),
        fixed_date=date.fromisoformat(fixed) if isinstance(fixed, str) else fixed,
        inactivity_months=config.get("inactivity_months"),
        reminder_days=tuple(config.get("reminder_days", (30, 7))),
    )


def _when(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _audience(config: Mapping[str, Any]) -> Audience:
    return Audience(
        enrolled_only=config.get("customers", "everyone") == "enrolled",
        groups=frozenset(config.get("groups") or ()),
        levels=frozenset(config.get("levels") or ()),
    )


def _earning(config: Mapping[str, Any]) -> EarningBase:
    defaults = EarningBase()
    tags = config.get("excluded_tags")
    return EarningBase(
        include_tax=bool(config.get("include_tax", defaults.include_tax)),
        include_shipping=bool(config.get("include_shipping", defaults.include_shipping)),
        deduct_discounts=bool(config.get("deduct_discounts", defaults.deduct_discounts)),
        points_payments_earn=bool(
            config.get("points_payments_earn", defaults.points_payments_earn)
        ),
        minimum_amount=decimal(config.get("minimum_amount", "0")),
        rounding=Rounding(config.get("rounding", defaults.rounding)),
        rounding_scope=RoundingScope(config.get("rounding_scope", defaults.rounding_scope)),
        excluded_tags=defaults.excluded_tags if tags is None else frozenset(tags),
    )


@dataclass(frozen=True, kw_only=True)
class ProgramEarning:
    """What one program version gives on one invoice or event, award by award."""

    program: ProgramDefinition
    awards: tuple[Award, ...]
    multiplier: Decimal = ONE
    #: The customer's level when the points were counted (the multiplier's reason).
    level: str | None = None
    #: The earning amount of an invoice, in the program's currency.
    base: Decimal | None = None
    conversion: Conversion | None = None
    #: Quantity of each invoice line (refunds by line are measured against it).
    line_qty: Mapping[str, Decimal] = field(default_factory=dict)
    #: For each rule with conditions: which matched and which did not.
    conditions: Mapping[str, ConditionCheck] = field(default_factory=dict)
    #: Awards a conflict inside the program set aside: who won and why.
    set_aside: tuple[Mapping[str, Any], ...] = ()
    #: The bonus campaigns that applied: what each wanted, gave, and whether its budget
    #: ran out (:func:`loyalty_plugin.domain.bonus_campaigns.explanation`).
    bonus_campaigns: tuple[Mapping[str, Any], ...] = ()
    #: Exact store credit (money in the program's currency) the rules with a credit
    #: ``reward`` give, one award per line or rule (issue #19).
    credit: tuple[Award, ...] = ()

    @cached_property
    def settlement(self) -> Settlement:
        """The whole points, rounded as the program says (once: an earning never changes,
        and combining programs asks for the points of each several times)."""
        return self.settle()

    @property
    def points(self) -> int:
        return self.settlement.points

    def settle(self, factor: Any = None) -> Settlement:
        """Round the awards, each scaled by ``factor(award)`` if given."""
        return settle(
            self.awards,
            rounding=self.program.earning.rounding,
            scope=self.program.earning.rounding_scope,
            multiplier=self.multiplier,
            factor=factor,
        )

    def without_rules(self, rule_ids: Iterable[str]) -> ProgramEarning:
        """The same earning with the awards of ``rule_ids`` taken out (a limit reached)."""
        dropped = set(rule_ids)
        return replace(
            self,
            awards=tuple(a for a in self.awards if a.rule not in dropped),
            credit=tuple(a for a in self.credit if a.rule not in dropped),
        )


def evaluate_invoice(
    program: ProgramDefinition,
    *,
    invoice: InvoiceView,
    customer: CustomerView,
    conversion: Conversion,
    merchant: MerchantFacts | None = None,
    use_index: bool = True,
    lookup: LineLookup | None = None,
) -> ProgramEarning | None:
    """The program's awards on ``invoice``, or ``None`` if its audience leaves ``customer`` out.

    Rules whose :mod:`conditions <loyalty_plugin.domain.rules.conditions>` do not hold give
    nothing; then the program's ``conflicts`` setting settles rules competing for a line.
    With ``use_index``, only the rules the :attr:`~ProgramDefinition.rule_index` finds for
    the invoice are tried (the same awards; rules left out are not in ``conditions``);
    ``lookup`` shares the index's lines by product and category between the programs
    evaluating one invoice.
    """
    if not program.audience.admits(customer):
        return None
    lines = earning_lines(invoice, program.earning, conversion)
    excluded = program.earning.excluded_tags
    eligible = tuple(bl for bl in lines if excluded.isdisjoint(bl.line.tags))
    base = sum((bl.amount for bl in eligible), ZERO)
    earning = ProgramEarning(
        program=program,
        awards=(),
        multiplier=program.multiplier_for(customer),
        level=customer.level,
        base=base,
        conversion=conversion,
        line_qty={bl.id: bl.line.qty for bl in lines if not bl.synthetic},
    )
    if base <= 0 or base < program.earning.minimum_amount:
        return earning
    ctx = InvoiceContext(
        invoice=invoice,
        lines=eligible,
        customer=customer,
        categories=program.categories,
        rate=conversion.rate,
    )
    facts = _condition_context(invoice, customer, merchant, eligible, program.categories)
    candidates = (
        program.rule_index.candidates(
            program.rules,
            invoice=invoice,
            lines=eligible,
            customer=customer,
            categories=program.categories,
            merchant=facts.merchant,
            lookup=lookup,
        )
        if use_index
        else [(rule, None) for rule in program.rules]
    )
    checks: dict[str, ConditionCheck] = {}
    awards: list[Award] = []
    for rule, lines in candidates:
        if INVOICE not in rule.triggers or rule.exclude.leaves_out_customer(customer):
            continue
        if rule.conditions:
            known = None if lines is None or not keyed_by_what(rule) else [b.line for b in lines]
            checks[rule.id] = check = check_conditions(rule.conditions, facts, lines=known)
            if not check.ok:
                continue
        awards.extend(rule.invoice_awards(ctx if lines is None else _narrowed(ctx, lines)))
    kept, set_aside = resolve_conflicts(awards, program.rules, program.conflicts)
    rewards = program.credit_rewards
    if not rewards:
        return replace(earning, awards=tuple(kept), conditions=checks, set_aside=tuple(set_aside))
    instead = {rule for rule, reward in rewards.items() if reward.instead_of_points}
    return replace(
        earning,
        awards=tuple(a for a in kept if a.rule not in instead),
        conditions=checks,
        set_aside=tuple(set_aside),
        credit=tuple(credit_awards(kept, rewards)),
    )


def _narrowed(ctx: InvoiceContext, lines: tuple[BaseLine, ...]) -> InvoiceContext:
    """``ctx`` with only ``lines`` (``dataclasses.replace`` costs three times as much)."""
    return InvoiceContext(
        invoice=ctx.invoice,
        lines=lines,
        customer=ctx.customer,
        categories=ctx.categories,
        rate=ctx.rate,
    )


def _condition_context(
    invoice: InvoiceView,
    customer: CustomerView,
    merchant: MerchantFacts | None,
    lines: Sequence[BaseLine],
    categories: CategoryTree,
) -> ConditionContext:
    return ConditionContext(
        customer=customer,
        at=invoice.occurred_at,
        day=invoice.date,
        channel=invoice.channel,
        store_id=invoice.store_id,
        merchant=merchant or MerchantFacts(),
        lines=tuple(bl.line for bl in lines),
        categories=categories,
    )


def resolve_conflicts(
    awards: Sequence[Award], rules: Sequence[Rule], mode: Conflicts
) -> tuple[list[Award], list[dict[str, Any]]]:
    """The awards that count under ``mode``, and those set aside with who won and why.

    Only line awards of rules in the same criteria group compete; invoice-wide awards
    (per order, brackets, fees) always add up. Ties go to the rule listed first.
    """
    if mode is Conflicts.ADD:
        return list(awards), []
    by_id = {rule.id: (index, rule) for index, rule in enumerate(rules)}
    contests: dict[tuple[str, str], dict[str, Decimal]] = {}
    for award in awards:
        if award.line is not None:
            key = (award.line, by_id[award.rule][1].group)
            points = contests.setdefault(key, {})
            points[award.rule] = points.get(award.rule, ZERO) + award.exact
    losers: dict[tuple[str, str], tuple[str, str]] = {}
    set_aside: list[dict[str, Any]] = []
    for (line, _group), points in contests.items():
        if len(points) < 2:
            continue
        winner = min(points, key=lambda r: _rank(mode, by_id[r], points[r]))
        for rule_id in points:
            if rule_id != winner:
                why = _why_lost(mode, by_id[winner][1], by_id[rule_id][1], points, rule_id)
                losers[(line, rule_id)] = (winner, why)
                set_aside.append(
                    {"rule": rule_id, "line": line, "exact": _shown(points[rule_id]),
                     "won_by": winner, "why": why}
                )  # fmt: skip
    kept = [a for a in awards if a.line is None or (a.line, a.rule) not in losers]
    return kept, set_aside


def _rank(mode: Conflicts, entry: tuple[int, Rule], exact: Decimal) -> tuple[Any, ...]:
    index, rule = entry
    if mode is Conflicts.MOST_SPECIFIC:
        return (-rule.specificity, -exact, index)
    return (-exact, index)


_SPECIFIC = {3: "product", 2: "category", 1: "line tag", 0: "every line"}


def _why_lost(
    mode: Conflicts, winner: Rule, loser: Rule, points: Mapping[str, Decimal], loser_id: str
) -> str:
    if mode is Conflicts.MOST_SPECIFIC and winner.specificity > loser.specificity:
        return (
            f"most_specific: {winner.id!r} ({_SPECIFIC[winner.specificity]}) is more specific "
            f"than {loser.id!r} ({_SPECIFIC[loser.specificity]})"
        )
    if points[winner.id] > points[loser_id]:
        return f"{mode.value}: {winner.id!r} gives more points on the line"
    return f"{mode.value}: a tie, {winner.id!r} is listed first"


def evaluate_event(program: ProgramDefinition, *, event: EventContext) -> ProgramEarning | None:
    """The program's awards for a registration, birthday or custom event."""
    if not program.audience.admits(event.customer):
        return None
    facts = ConditionContext(customer=event.customer, at=event.at, merchant=event.merchant)
    checks: dict[str, ConditionCheck] = {}
    awards: list[Award] = []
    for rule in program.rules:
        if event.trigger not in rule.triggers:
            continue
        if rule.conditions:
            checks[rule.id] = check = check_conditions(rule.conditions, facts)
            if not check.ok:
                continue
        awards.extend(rule.event_awards(event))
    earning = ProgramEarning(
        program=program,
        awards=tuple(awards),
        multiplier=program.multiplier_for(event.customer),
        level=event.customer.level,
        conditions=checks,
    )
    rewards = program.credit_rewards
    if not rewards:
        return earning
    # An event rule's reward is a fixed credit_amount (there is no money to take a
    # percent of), given besides or instead of its points (#19).
    instead = {rule for rule, reward in rewards.items() if reward.instead_of_points}
    return replace(
        earning,
        awards=tuple(a for a in awards if a.rule not in instead),
        credit=tuple(credit_awards(awards, rewards)),
    )


def audience_refusal(audience: Audience, customer: CustomerView) -> str | None:
    """Why the audience leaves ``customer`` out, or ``None`` if it admits them."""
    if audience.enrolled_only and not customer.enrolled:
        return "the customer is not enrolled"
    if audience.groups and audience.groups.isdisjoint(customer.all_groups()):
        named = ", ".join(repr(g) for g in sorted(customer.all_groups())) or "None"
        return f"the customer's group {named} is not in the program's audience"
    if audience.levels and customer.level not in audience.levels:
        return f"the customer's level {customer.level!r} is not in the program's audience"
    return None


def why_no_invoice_points(
    program: ProgramDefinition,
    *,
    invoice: InvoiceView,
    customer: CustomerView,
    earning: ProgramEarning | None,
) -> str:
    """Why ``program`` gives an invoice no points (``earning`` as evaluated, if it was)."""
    refused = audience_refusal(program.audience, customer)
    if refused or earning is None:
        return refused or "the program's audience leaves the customer out"
    excluded = program.earning.excluded_tags
    if invoice.lines and all(not excluded.isdisjoint(line.tags) for line in invoice.lines):
        return f"every line is excluded (tags: {', '.join(sorted(excluded))})"
    base = earning.base or ZERO
    if base <= 0:
        return "nothing of the invoice earns (earning amount 0)"
    if base < program.earning.minimum_amount:
        return f"the earning amount {base} is below the minimum {program.earning.minimum_amount}"
    if not any(INVOICE in rule.triggers for rule in program.rules):
        return "no rule of the program earns on invoices"
    failed = {rule: check.failed for rule, check in earning.conditions.items() if not check.ok}
    if not earning.awards and failed:
        rule, why = next(iter(failed.items()))
        return f"the conditions of rule {rule!r} do not hold ({'; '.join(why)})"
    if not earning.awards:
        return "no rule of the program matches the invoice's lines or customer"
    return f"the earning amount {base} earns less than one point"


def why_no_event_points(
    program: ProgramDefinition, *, event: EventContext, full_rules: Iterable[str] = ()
) -> str:
    """Why ``program`` gives an event no points; ``full_rules`` reached their limit."""
    refused = audience_refusal(program.audience, event.customer)
    if refused:
        return refused
    rules = [rule for rule in program.rules if event.trigger in rule.triggers]
    if not rules:
        return f"no rule of the program earns on {event.trigger}"
    full = set(full_rules)
    limited = [rule for rule in rules if rule.id in full and rule.limit is not None]
    if limited:
        limit = limited[0].limit
        assert limit is not None  # noqa: S101 - filtered above
        return f"rule {limited[0].id!r} already gave its {limit.count} per {limit.period.value}"
    return f"no {event.trigger} rule of the program matches"


def explain(reasons: Mapping[str, str]) -> str:
    """One reason from each program's (key to reason): the shared one, or each by program."""
    distinct = set(reasons.values())
    if len(distinct) == 1:
        return distinct.pop()
    return "; ".join(f"{key}: {reason}" for key, reason in sorted(reasons.items()))


def combine(earnings: Sequence[ProgramEarning]) -> list[ProgramEarning]:
    """The earnings that count: an exclusive one alone, else stacking ones plus the best.

    Only programs giving points (or store credit) take part. Ties go to the higher
    ``priority``, then to the program key in alphabetical order.
    """
    giving = sorted(
        (e for e in earnings if e.points > 0 or e.credit),
        key=lambda e: (-e.program.priority, e.program.key),
    )
    exclusive = [e for e in giving if e.program.combination is Combination.EXCLUSIVE]
    if exclusive:
        return [exclusive[0]]
    stacking = [e for e in giving if e.program.combination is Combination.STACK]
    best = [e for e in giving if e.program.combination is Combination.BEST]
    if best:
        stacking.append(max(best, key=lambda e: e.points))
    return sorted(stacking, key=lambda e: (-e.program.priority, e.program.key))


def breakdown(
    earning: ProgramEarning, settlement: Settlement, *, before: Settlement | None = None
) -> dict[str, Any]:
    """An entry's explanation: the program version, the rate, and points per rule and line.

    With ``before`` (what earlier entries of the same invoice already earned), each line
    shows only the points added now, so the lines add up to the entry's points.
    """
    earlier = [item.points for item in before.items] if before else []
    earning_settings = earning.program.earning
    shown = {
        "program": earning.program.label(),
        "currency": earning.program.currency,
        "exchange_rate": earning.conversion.to_json() if earning.conversion else None,
        "base": None if earning.base is None else str(earning.base),
        "multiplier": str(earning.multiplier),
        "rounding": earning_settings.rounding.value,
        "rounding_scope": earning_settings.rounding_scope.value,
        "points": settlement.points - (before.points if before else 0),
        "breakdown": [
            {
                "rule": item.award.rule,
                "kind": item.award.kind,
                "line": item.award.line,
                "base": None if item.award.base is None else str(item.award.base),
                "exact": _shown(item.exact),
                "points": item.points - (earlier[i] if i < len(earlier) else 0),
                "note": item.award.note,
            }
            for i, item in enumerate(settlement.items)
        ],
    } | explained(earning)
    return shown | _level_bonus(earning, settlement, before, shown["breakdown"])


def explained(earning: ProgramEarning) -> dict[str, Any]:
    """The conditions that held for each rule that earned, and the awards a conflict set
    aside (keys present only when there is something to say)."""
    earned = {item.rule for item in earning.awards}
    conditions = {
        rule: list(check.matched)
        for rule, check in earning.conditions.items()
        if check.ok and rule in earned
    }
    campaigns = [dict(item) for item in earning.bonus_campaigns]
    return (
        ({"conditions": conditions} if conditions else {})
        | ({"set_aside": [dict(item) for item in earning.set_aside]} if earning.set_aside else {})
        | ({"bonus_campaigns": campaigns} if campaigns else {})
    )


def _level_bonus(
    earning: ProgramEarning,
    settlement: Settlement,
    before: Settlement | None,
    items: list[dict[str, Any]],
) -> dict[str, Any]:
    """The level multiplier's own share: each item's ``base_points`` before it, and the rest.

    "Shoes x2: 40 points, Gold bonus x1.5: 20 points": the items' ``base_points`` and the
    bonus's ``points`` add up to the entry's points, as the items' ``points`` do.
    """
    if earning.multiplier in (ONE, ZERO) or not settlement.items:
        return {}
    base = _unmultiplied(earning, settlement)
    earlier = _unmultiplied(earning, before) if before else []
    for i, (item, counted) in enumerate(zip(items, base, strict=True)):
        item["base_points"] = counted - (earlier[i] if i < len(earlier) else 0)
    points = settlement.points - (before.points if before else 0)
    levels = earning.program.levels.levels if earning.program.levels else ()
    name = next((lv.name for lv in levels if lv.key == earning.level), None)
    bonus = points - sum(item["base_points"] for item in items)
    return {
        "level_bonus": {
            "level": earning.level,
            "name": name,
            "multiplier": str(earning.multiplier),
            "points": bonus,
        }
    }


def _unmultiplied(earning: ProgramEarning, settlement: Settlement) -> list[int]:
    """Each item's whole points rounded again without the level multiplier."""
    multiplier = earning.multiplier
    awards = [replace(i.award, exact=_before_level(i, multiplier)) for i in settlement.items]
    rounded = iter(
        settle(
            awards,
            rounding=earning.program.earning.rounding,
            scope=earning.program.earning.rounding_scope,
        ).items
    )
    return [next(rounded).points if award.exact else 0 for award in awards]


def _before_level(item: SettledAward, multiplier: Decimal) -> Decimal:
    """An item's exact points before the level multiplier (a campaign's were never under it)."""
    return item.exact if item.award.kind == BONUS_CAMPAIGN else item.exact / multiplier


def _shown(exact: Decimal) -> str:
    """Exact points as shown in a breakdown: at most 6 decimals (1/3 is ``0.333333``)."""
    if exact.as_tuple().exponent < -6:  # type: ignore[operator]
        exact = exact.quantize(Decimal("0.000001"))
    return str(exact)


# -- store credit (issue #19) ---------------------------------------------------------


def credit_awards(awards: Sequence[Award], rewards: Mapping[str, CreditReward]) -> list[Award]:
    """The exact credit (money, the program's currency) the rules with a ``reward`` give
    for their ``awards``: a percent of each award's base, or a fixed amount once per rule."""
    found: list[Award] = []
    fixed_done: set[str] = set()
    for award in awards:
        reward = rewards.get(award.rule)
        if reward is None:
            continue
        if reward.percent is not None and award.base is not None and award.base > 0:
            exact = award.base * reward.percent / HUNDRED
            found.append(
                Award(rule=award.rule, kind=CREDIT, exact=exact, line=award.line,
                      base=award.base, note=reward.note())
            )  # fmt: skip
        elif reward.amount is not None and award.rule not in fixed_done:
            fixed_done.add(award.rule)
            found.append(
                Award(rule=award.rule, kind=CREDIT, exact=reward.amount, note=reward.note())
            )
    return found


def in_minor_units(awards: Sequence[Award], currency: str) -> list[Award]:
    """Credit awards with ``exact`` in minor units, ready for :func:`settle` (rounded down)."""
    digits = minor_digits(currency)
    return [replace(a, exact=a.exact.scaleb(digits)) for a in awards]
