"""An index of a program's rules by what they can match, so an invoice meets only those.

A rule that can earn only on some products (a ``product`` rule, or ``what.products``) is
filed under each of them; one that can earn only on some categories under each category;
failing those, one gated by a sales channel, a store (or store group) or a customer level
under each value of the gate. Every other rule is always a candidate. For an invoice the
candidates are the always-rules plus the rules filed under its lines' products, skus and
categories (with their ancestors), its channel, its store and the store's groups, and the
customer's level, in the program's order. The index only leaves out rules that could not
give anything, so evaluating the candidates gives exactly what evaluating all rules gives.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from loyalty_plugin.domain.rules.conditions import Conditions, MerchantFacts
from loyalty_plugin.domain.rules.invoice import CustomerView, InvoiceView, LineView
from loyalty_plugin.domain.rules.kinds import CategoryRule, ProductRule, Rule
from loyalty_plugin.domain.rules.lines import BaseLine
from loyalty_plugin.domain.rules.settings import CategoryTree

#: The dimensions a rule can be filed under, most selective first.
PRODUCT, CATEGORY, CHANNEL, STORE, STORE_GROUP, LEVEL = (
    "product", "category", "channel", "store", "store_group", "level",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class RuleIndex:
    """Positions of a program's rules by ``(dimension, value)``; ``always`` for the rest."""

    always: tuple[int, ...] = ()
    keyed: Mapping[tuple[str, str], tuple[int, ...]] = field(default_factory=dict)

    @classmethod
    def of(cls, rules: Sequence[Rule]) -> RuleIndex:
        """File each rule under its most selective keys."""
        always: list[int] = []
        keyed: dict[tuple[str, str], list[int]] = {}
        for position, rule in enumerate(rules):
            keys = keys_of(rule)
            if not keys:
                always.append(position)
            for key in keys:
                keyed.setdefault(key, []).append(position)
        return cls(tuple(always), {k: tuple(v) for k, v in keyed.items()})

    def candidates(
        self,
        rules: Sequence[Rule],
        *,
        invoice: InvoiceView,
        lines: Sequence[BaseLine],
        customer: CustomerView,
        categories: CategoryTree,
        merchant: MerchantFacts,
        lookup: LineLookup | None = None,
    ) -> list[tuple[Rule, tuple[BaseLine, ...] | None]]:
        """The rules that may earn on ``invoice``, in the program's order, each with the
        lines it may earn on when the index knows them (``None``: every line).

        A rule filed under products or categories can earn only on lines of those, so it
        is given only them: the work then grows with the matches, not rules x lines.
        ``lookup`` shares the invoice's lines by key between the programs evaluating it.
        """
        if not self.keyed:
            return [(rule, None) for rule in rules]
        found: dict[int, list[BaseLine] | None] = dict.fromkeys(self.always)
        by_key = (lookup or LineLookup()).by_key(invoice.lines, categories)
        base_of = {id(base.line): base for base in lines}
        for key, views in by_key.items():
            positions = self.keyed.get(key)
            if not positions:
                continue
            matched = [base_of[id(v)] for v in views if id(v) in base_of]
            for position in positions:
                found.setdefault(position, []).extend(matched)  # type: ignore[union-attr]
        for key in _context_keys(invoice, customer, merchant):
            for position in self.keyed.get(key, ()):
                found[position] = None
        order = {id(base): number for number, base in enumerate(lines)}
        return [
            (rules[position], None if chosen is None else _in_order(chosen, order))
            for position, chosen in sorted(found.items())
        ]


def _in_order(lines: list[BaseLine], order: Mapping[int, int]) -> tuple[BaseLine, ...]:
    """Each line once, in the invoice's order (a line may match a rule by several keys)."""
    if len(lines) == 1:
        return (lines[0],)
    unique = {id(line): line for line in lines}
    return tuple(sorted(unique.values(), key=lambda line: order[id(line)]))


def keyed_by_what(rule: Rule) -> bool:
    """True when the rule is filed under its ``what`` products or categories: the lines
    the index gives it are then every line its ``what`` can select (see :func:`keys_of`)."""
    what = rule.conditions.what
    return not isinstance(rule, ProductRule) and bool(what.products or what.categories)


def keys_of(rule: Rule) -> set[tuple[str, str]]:
    """The keys a rule is filed under (none: it is always a candidate)."""
    what = rule.conditions.what
    products = set(rule.products) if isinstance(rule, ProductRule) else set(what.products)
    if products:
        return {(PRODUCT, p) for p in products}
    cats = set(what.categories) or (
        set(rule.categories) if isinstance(rule, CategoryRule) else set()
    )
    if cats:
        return {(CATEGORY, c) for c in cats}
    return _gate_keys(rule.conditions)


def condition_keys(conditions: Conditions) -> set[tuple[str, str]]:
    """The keys conditions alone are filed under, as :func:`keys_of` files a rule's: an
    invoice none of whose keys (:func:`invoice_keys`) is among them cannot meet them
    (none: they may meet any invoice). A bonus campaign is filed so."""
    what = conditions.what
    if what.products:
        return {(PRODUCT, p) for p in what.products}
    if what.categories:
        return {(CATEGORY, c) for c in what.categories}
    return _gate_keys(conditions)


def _gate_keys(conditions: Conditions) -> set[tuple[str, str]]:
    """The channel, store (and store group) or level keys of the first gate set."""
    if conditions.channels:
        return {(CHANNEL, c) for c in conditions.channels}
    if conditions.stores or conditions.store_groups:
        return {(STORE, s) for s in conditions.stores} | {
            (STORE_GROUP, g) for g in conditions.store_groups
        }
    if conditions.who.levels:
        return {(LEVEL, level) for level in conditions.who.levels}
    return set()


class LineLookup:
    """An invoice's lines under each product, sku and category key, worked out once per
    invoice and category tree and shared by every program that evaluates the invoice."""

    __slots__ = ("_seen",)

    def __init__(self) -> None:
        self._seen: list[tuple[Sequence[LineView], CategoryTree, dict[Key, list[LineView]]]] = []

    def by_key(
        self, lines: Sequence[LineView], categories: CategoryTree
    ) -> dict[Key, list[LineView]]:
        """The lines under each key (a category's ancestors included)."""
        for seen, tree, found in self._seen:
            if seen is lines and (tree is categories or tree.parents == categories.parents):
                return found
        found = _lines_by_key(lines, categories)
        self._seen.append((lines, categories, found))
        return found


Key = tuple[str, str]


def _lines_by_key(lines: Sequence[LineView], categories: CategoryTree) -> dict[Key, list[LineView]]:
    """The lines under each product, sku and category key (ancestors included)."""
    found: dict[Key, list[LineView]] = {}
    lineages: dict[str, tuple[str, ...]] = {}
    for line in lines:
        keys = {(PRODUCT, v) for v in (line.product_id, line.sku) if v is not None}
        if line.category_id is not None:
            if line.category_id not in lineages:
                lineages[line.category_id] = categories.lineage(line.category_id)
            keys.update((CATEGORY, c) for c in lineages[line.category_id])
        for key in keys:
            found.setdefault(key, []).append(line)
    return found


def invoice_keys(
    invoice: InvoiceView,
    *,
    customer: CustomerView,
    categories: CategoryTree,
    merchant: MerchantFacts,
    lookup: LineLookup | None = None,
) -> set[tuple[str, str]]:
    """Every key of an invoice: its lines' products, skus and categories (with their
    ancestors), its channel, store and the store's groups, and the customer's level."""
    found = set((lookup or LineLookup()).by_key(invoice.lines, categories))
    found.update(_context_keys(invoice, customer, merchant))
    return found


def _context_keys(
    invoice: InvoiceView, customer: CustomerView, merchant: MerchantFacts
) -> Iterable[tuple[str, str]]:
    """The channel, store, store groups and level keys of an invoice and its customer."""
    if invoice.channel is not None:
        yield CHANNEL, invoice.channel
    if invoice.store_id is not None:
        yield STORE, invoice.store_id
        for group, stores in merchant.store_groups.items():
            if invoice.store_id in stores:
                yield STORE_GROUP, group
    if customer.level is not None:
        yield LEVEL, customer.level
