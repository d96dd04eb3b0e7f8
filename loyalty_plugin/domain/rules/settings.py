"""A program's earning settings: the base, rounding, exclusions, categories and limits."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from loyalty_plugin.domain.errors import ValidationError

if TYPE_CHECKING:
    from loyalty_plugin.domain.rules.invoice import CustomerView, LineView

#: Tags whose lines never earn unless a program says otherwise: buying a gift card or a
#: promotional item must not farm points.
DEFAULT_EXCLUDED_TAGS = frozenset({"gift_card", "promotional"})

#: Exact points are cut to this many decimals before rounding, so that ``1/3 * 3`` is 1.
_NOISE = Decimal("1e-12")


class Rounding(enum.StrEnum):
    """How exact points become whole points."""

    #: Drop the fraction (default): 57.9 gives 57.
    DOWN = "down"
    #: Half up: 57.5 gives 58, 57.4 gives 57.
    NEAREST = "nearest"
    #: Any fraction gives one more point: 57.1 gives 58.
    UP = "up"

    def apply(self, exact: Decimal) -> int:
        """Whole points for ``exact`` (never negative)."""
        if exact <= 0:
            return 0
        clean = exact.quantize(_NOISE, rounding=ROUND_HALF_EVEN)
        return int(clean.to_integral_value(rounding=_MODES[self]))


_MODES = {Rounding.DOWN: ROUND_FLOOR, Rounding.NEAREST: ROUND_HALF_UP, Rounding.UP: ROUND_CEILING}


class RoundingScope(enum.StrEnum):
    """Where rounding happens."""

    #: Once on the program's total for the invoice (default).
    INVOICE = "invoice"
    #: On each rule's points for each line, then added up.
    LINE = "line"


@dataclass(frozen=True, slots=True, kw_only=True)
class EarningBase:
    """What money of an invoice earns, and how points are rounded. Defaults documented."""

    #: Tax earns points (default: no, points are earned on amounts before tax).
    include_tax: bool = False
    #: Shipping earns points, as a line of its own (default: no).
    include_shipping: bool = False
    #: Discounts are taken off before earning (default: yes, earn on what was paid).
    deduct_discounts: bool = True
    #: The part paid with points or a loyalty coupon earns too (default: no). The invoice is
    #: sent after that discount, so yes adds it back to the earning amount.
    points_payments_earn: bool = False
    #: An invoice whose earning amount is below this earns nothing (default: 0).
    minimum_amount: Decimal = Decimal(0)
    rounding: Rounding = Rounding.DOWN
    rounding_scope: RoundingScope = RoundingScope.INVOICE
    #: Lines with any of these tags earn nothing under any rule of the program.
    excluded_tags: frozenset[str] = DEFAULT_EXCLUDED_TAGS


@dataclass(frozen=True, slots=True)
class CategoryTree:
    """Product categories, child to parent, so that a rule on a category matches its children."""

    parents: Mapping[str, str | None] = field(default_factory=dict)
    _lineages: dict[str, frozenset[str]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        for start in self.parents:
            self._lineages[start] = frozenset(self.lineage(start))

    def lineage(self, category: str | None) -> tuple[str, ...]:
        """``category`` and all its ancestors, nearest first; refuses a cycle."""
        seen: list[str] = []
        while category is not None:
            if category in seen:
                raise ValidationError(
                    f"category {category!r} is its own ancestor", field=f"categories.{category}"
                )
            seen.append(category)
            category = self.parents.get(category)
        return tuple(seen)

    def within(self, category: str | None, targets: frozenset[str]) -> bool:
        """True when ``category`` is one of ``targets`` or below one of them."""
        if category is None:
            return False
        known = self._lineages.get(category)
        return not targets.isdisjoint(known if known is not None else (category,))


@dataclass(frozen=True, slots=True, kw_only=True)
class Exclusions:
    """What a rule leaves out: lines by product, category or tag; customers by group."""

    products: frozenset[str] = frozenset()
    categories: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()

    @classmethod
    def from_config(cls, config: Mapping[str, Iterable[str]] | None) -> Exclusions:
        """From the ``exclude`` object of a rule (lists of strings)."""
        config = config or {}
        return cls(
            **{
                k: frozenset(config.get(k, ()))
                for k in ("products", "categories", "tags", "groups")
            }
        )

    def leaves_out_line(self, line: LineView, categories: CategoryTree) -> bool:
        """True when the line must not earn under the rule."""
        if self.products and (line.product_id in self.products or line.sku in self.products):
            return True
        if self.tags and not self.tags.isdisjoint(line.tags):
            return True
        return bool(self.categories) and categories.within(line.category_id, self.categories)

    def leaves_out_customer(self, customer: CustomerView) -> bool:
        """True when one of the customer's groups is excluded from the rule."""
        return not self.groups.isdisjoint(customer.all_groups())


class Period(enum.StrEnum):
    """The window a per-customer limit counts in (calendar periods, merchant's time zone)."""

    EVER = "ever"
    YEAR = "year"
    MONTH = "month"
    WEEK = "week"
    DAY = "day"

    def key(self, day: date) -> str:
        """The period ``day`` falls in, as a short stable key (``2026``, ``2026-03``...)."""
        if self is Period.EVER:
            return "ever"
        if self is Period.YEAR:
            return f"{day.year:04d}"
        if self is Period.MONTH:
            return f"{day.year:04d}-{day.month:02d}"
        if self is Period.WEEK:
            year, week, _ = day.isocalendar()
            return f"{year:04d}-W{week:02d}"
        return day.isoformat()


@dataclass(frozen=True, slots=True)
class Limit:
    """At most ``count`` awards per customer per ``period``."""

    count: int
    period: Period

    def to_json(self) -> dict[str, object]:
        return {"count": self.count, "per": self.period.value}
