"""Earning rules, pure: invoice views, the earning base, rule kinds, rounding, refunds.

Nothing here touches a database or Flask. :mod:`loyalty_plugin.domain.programs` puts rules
together into programs; :mod:`loyalty_plugin.services.earning.rule_engine` feeds them from the
database.
"""

from loyalty_plugin.domain.rules.invoice import (
    SHIPPING_LINE,
    WHOLE_INVOICE_LINE,
    Conversion,
    CustomerView,
    InvoiceView,
    LineView,
)
from loyalty_plugin.domain.rules.kinds import (
    BIRTHDAY,
    CUSTOM,
    INVOICE,
    REGISTRATION,
    Award,
    EventContext,
    InvoiceContext,
    Ratio,
    Rule,
    build_rule,
    register_rule_kind,
    rule_kinds,
)
from loyalty_plugin.domain.rules.lines import BaseLine, earning_lines
from loyalty_plugin.domain.rules.settings import (
    DEFAULT_EXCLUDED_TAGS,
    CategoryTree,
    EarningBase,
    Exclusions,
    Limit,
    Period,
    Rounding,
    RoundingScope,
)
from loyalty_plugin.domain.rules.settlement import (
    InvoiceState,
    SettledAward,
    Settlement,
    Targets,
    settle,
    targets,
)

__all__ = [
    "BIRTHDAY",
    "CUSTOM",
    "DEFAULT_EXCLUDED_TAGS",
    "INVOICE",
    "REGISTRATION",
    "SHIPPING_LINE",
    "WHOLE_INVOICE_LINE",
    "Award",
    "BaseLine",
    "CategoryTree",
    "Conversion",
    "CustomerView",
    "EarningBase",
    "EventContext",
    "Exclusions",
    "InvoiceContext",
    "InvoiceState",
    "InvoiceView",
    "Limit",
    "LineView",
    "Period",
    "Ratio",
    "Rounding",
    "RoundingScope",
    "Rule",
    "SettledAward",
    "Settlement",
    "Targets",
    "build_rule",
    "earning_lines",
    "register_rule_kind",
    "rule_kinds",
    "settle",
    "targets",
]
