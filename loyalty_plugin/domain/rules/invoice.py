"""What the earning engine reads: an invoice, its lines and the customer, in ``Decimal``.

:func:`earning_lines` turns an invoice into the money each line earns on, under a
program's :class:`~loyalty_plugin.domain.rules.settings.EarningBase` and in the program's
currency. Invoice-wide parts (the invoice discount, tax, and the part paid with points when
a program lets it earn) are shared over the lines in proportion to their amounts; only exact
``Decimal`` arithmetic is used.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from loyalty_plugin.domain.money import check_money
from loyalty_plugin.domain.rules.settings import EarningBase

ZERO = Decimal(0)
ONE = Decimal(1)

#: Id of the line made up for an invoice sent without items.
WHOLE_INVOICE_LINE = "invoice"
#: Id of the line made up for shipping when a program lets shipping earn.
SHIPPING_LINE = "shipping"


@dataclass(frozen=True, slots=True, kw_only=True)
class LineView:
    """One invoice line: ``amount`` is its total after its own discount, before tax."""

    id: str
    qty: Decimal
    amount: Decimal
    discount: Decimal = ZERO
    product_id: str | None = None
    sku: str | None = None
    category_id: str | None = None
    tags: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        check_money(self.qty, field=f"items.{self.id}.qty")
        check_money(self.amount, field=f"items.{self.id}.total")
        check_money(self.discount, field=f"items.{self.id}.discount")


@dataclass(frozen=True, slots=True, kw_only=True)
class InvoiceView:
    """An invoice as the engine sees it; amounts are in ``currency``."""

    id: str
    currency: str
    total: Decimal
    lines: tuple[LineView, ...] = ()
    subtotal: Decimal | None = None
    #: The invoice's discount; the part beyond the lines' own discounts is shared out.
    discount_total: Decimal = ZERO
    tax_total: Decimal = ZERO
    shipping_total: Decimal = ZERO
    transaction_fee: Decimal = ZERO
    #: Money of the invoice paid with points or a loyalty coupon. The host sends amounts
    #: after that discount (the discount ``POST /redemptions`` answers), so it is not in
    #: ``total`` nor in the lines: it is added back only when points payments earn.
    paid_with_points: Decimal = ZERO
    #: The host's rate from ``currency`` to the merchant's currency, if it sent one.
    exchange_rate: Decimal | None = None
    #: The invoice's date as the host sent it, if it did.
    date: dt.date | None = None

    def __post_init__(self) -> None:
        for name in ("total", "discount_total", "tax_total", "shipping_total"):
            check_money(getattr(self, name), field=name)
        check_money(self.transaction_fee, field="transaction_fee")
        check_money(self.paid_with_points, field="paid_with_points")
        if self.subtotal is not None:
            check_money(self.subtotal, field="subtotal")
        if self.exchange_rate is not None:
            check_money(self.exchange_rate, field="exchange_rate")


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomerView:
    """What audiences and rules may ask of the customer."""

    id: str
    group: str | None = None
    #: Every group the host puts the customer in (``group`` counts too).
    groups: frozenset[str] = frozenset()
    enrolled: bool = True
    #: Membership level (filled by the membership-levels issue; ``None`` until then).
    level: str | None = None
    #: True when this is the customer's first invoice that earns with the merchant.
    first_purchase: bool = False

    def all_groups(self) -> frozenset[str]:
        """``groups`` and ``group`` together."""
        return self.groups | ({self.group} if self.group is not None else frozenset())


@dataclass(frozen=True, slots=True, kw_only=True)
class Conversion:
    """How invoice money became program money: ``program = invoice * rate``."""

    rate: Decimal
    source: str
    from_currency: str
    to_currency: str

    @classmethod
    def identity(cls, currency: str) -> Conversion:
        """No conversion: the invoice is in the program's currency."""
        return cls(rate=ONE, source="same currency", from_currency=currency, to_currency=currency)

    def to_json(self) -> dict[str, str]:
        """As stored in an entry's details."""
        return {
            "rate": str(self.rate),
            "source": self.source,
            "from": self.from_currency,
            "to": self.to_currency,
        }


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
