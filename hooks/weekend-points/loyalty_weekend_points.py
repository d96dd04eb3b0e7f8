"""Example plugin: invoices dated on a Saturday or Sunday earn double points.

It registers an earning rule kind with the ``register_earning_rules`` hook. Install it with
``pip install hooks/weekend-points`` (its entry point loads it), or name the module in
``LOYALTY_PLUGINS``.
"""

from __future__ import annotations

from dataclasses import dataclass

from loyalty_plugin import hookimpl
from loyalty_plugin.domain.earning import EarningRule, InvoiceFacts


@dataclass(frozen=True)
class WeekendDouble:
    """Bonus equal to the base points when the invoice date falls on a weekend."""

    name: str = "weekend_double"

    def bonus(self, invoice: InvoiceFacts, base_points: int) -> int:
        if invoice.date is None or invoice.date.weekday() < 5:
            return 0
        return base_points


@hookimpl
def register_earning_rules() -> list[EarningRule]:
    return [WeekendDouble()]
