"""What the earning engine reads: an invoice, its lines and the customer, in ``Decimal``.

:func:`loyalty_plugin.domain.rules.lines.earning_lines` turns an invoice into the money each
line earns on. This module imports nothing of the earning settings, which refer to its
views: the two once imported each other.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from loyalty_plugin.domain.money import check_money

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
    #: When the invoice was paid (the event's ``occurred_at``): time conditions read it.
    occurred_at: dt.datetime | None = None
    #: The sales channel the host sent (``online``, ``pos``, ``app``... any label).
    channel: str | None = None
    #: The store or branch the host sent.
    store_id: str | None = None

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
    #: Tags the host put on the customer.
    tags: frozenset[str] = frozenset()
    #: When the customer registered (was first known to the merchant).
    registered_at: dt.datetime | None = None
    #: When the customer last bought before this invoice (win-back conditions).
    last_purchase_at: dt.datetime | None = None

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
