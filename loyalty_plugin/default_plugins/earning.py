"""The interim base rule: 1 point per 10.00 of the invoice total in the merchant's currency.

Registered ``trylast``, so any plugin that answers ``calculate_invoice_points`` replaces it.
"""

from __future__ import annotations

from loyalty_plugin.domain.earning import InvoiceFacts, points_for_money
from loyalty_plugin.hookspecs import hookimpl


@hookimpl(trylast=True)
def calculate_invoice_points(invoice: InvoiceFacts, merchant_currency: str) -> int:
    """Whole points for the invoice's total, rounded down."""
    if invoice.merchant_total is None:
        raise ValueError("merchant_total must be set before valuing an invoice")
    return points_for_money(invoice.merchant_total)
