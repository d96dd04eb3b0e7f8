"""Example plugin: a rule kind that earns only on invoices dated on a Saturday or Sunday.

It registers the kind with the ``register_earning_rules`` hook; a merchant's program then
uses it like a built-in kind. Beside a ``per_amount`` rule of the same ratio it doubles the
points of weekend invoices::

    {"id": "weekend", "kind": "weekend_bonus", "points": "1", "per": "10.00"}

Install it with ``pip install hooks/weekend-points`` (its entry point loads it), or name
the module in ``LOYALTY_PLUGINS``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from loyalty_plugin import hookimpl
from loyalty_plugin.domain.rules import Award, InvoiceContext, Ratio, Rule


@dataclass(frozen=True, kw_only=True)
class WeekendBonus(Rule):
    """``points`` per ``per`` of money, on invoices whose date falls on a weekend."""

    kind: ClassVar[str] = "weekend_bonus"
    ratio: Ratio

    @classmethod
    def options(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        return {"ratio": Ratio.from_config(config)}

    def invoice_awards(self, ctx: InvoiceContext) -> list[Award]:
        day = ctx.invoice.date
        if day is None or day.weekday() < 5:
            return []
        return [
            self.award(self.ratio.of(line.amount), line=line.id, base=line.amount, note="weekend")
            for line in ctx.lines_for(self)
            if line.amount > 0
        ]


@hookimpl
def register_earning_rules() -> list[type[Rule]]:
    return [WeekendBonus]
