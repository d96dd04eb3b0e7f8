"""The money each line of an invoice earns on, under a program's earning base.

:func:`earning_lines` turns an invoice into the money each line earns on, under a
program's :class:`~loyalty_plugin.domain.rules.settings.EarningBase` and in the program's
currency. Invoice-wide parts (the invoice discount, tax, and the part paid with points when
a program lets it earn) are shared over the lines in proportion to their amounts; only exact
``Decimal`` arithmetic is used.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from loyalty_plugin.domain.rules.invoice import (
    ONE,
    SHIPPING_LINE,
    WHOLE_INVOICE_LINE,
    ZERO,
    Conversion,
    InvoiceView,
    LineView,
)

if TYPE_CHECKING:
    from loyalty_plugin.domain.rules.settings import EarningBase


@dataclass(frozen=True, slots=True)
class BaseLine:
    """A line with the money it earns on, in the program's currency."""

    line: LineView
    amount: Decimal
    synthetic: bool = False

    @property
    def id(self) -> str:
        return self.line.id


def earning_lines(
    invoice: InvoiceView, base: EarningBase, conversion: Conversion
) -> tuple[BaseLine, ...]:
    """The money each line earns on under ``base``, converted with ``conversion``."""
    synthetic = not invoice.lines
    lines = invoice.lines or (_whole_invoice_line(invoice),)
    weight = sum((line.amount for line in lines), ZERO)
    shared = _shared_amount(invoice, base)
    result = []
    for line in lines:
        amount = line.amount if base.deduct_discounts else line.amount + line.discount
        if weight > 0 and shared:
            amount += shared * line.amount / weight
        result.append(BaseLine(line, max(ZERO, amount * conversion.rate), synthetic))
    if base.include_shipping and invoice.shipping_total > 0:
        shipping = LineView(id=SHIPPING_LINE, qty=ONE, amount=invoice.shipping_total)
        result.append(BaseLine(shipping, invoice.shipping_total * conversion.rate, True))
    return tuple(result)


def _shared_amount(invoice: InvoiceView, base: EarningBase) -> Decimal:
    """Invoice-wide money shared over the lines: minus discounts, plus tax, plus the part
    paid with points when points payments earn (the host's amounts are after it)."""
    shared = ZERO
    if base.deduct_discounts and invoice.lines:
        own = sum((line.discount for line in invoice.lines), ZERO)
        shared -= max(ZERO, invoice.discount_total - own)
    elif base.deduct_discounts:
        shared -= invoice.discount_total
    if base.points_payments_earn:
        shared += invoice.paid_with_points
    if base.include_tax:
        shared += invoice.tax_total
    return shared


def _whole_invoice_line(invoice: InvoiceView) -> LineView:
    """One line standing for an invoice sent without items (its amount before tax)."""
    if invoice.subtotal is not None:
        amount = invoice.subtotal
    else:
        amount = invoice.total - invoice.tax_total - invoice.shipping_total + invoice.discount_total
    return LineView(id=WHOLE_INVOICE_LINE, qty=ONE, amount=max(ZERO, amount))
