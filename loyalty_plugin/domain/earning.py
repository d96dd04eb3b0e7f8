"""Earning arithmetic: an invoice's value in the merchant's currency and its points.

This is the interim rule set that runs until programs land (issue 5): one base rule, 1
point per 10.00 of the invoice total, plus the bonus rules plugins register. Points are
always rounded down, so a refund never gives back more than was earned.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_FLOOR, Decimal
from typing import Protocol

from loyalty_plugin.domain.errors import ValidationError

#: Money that earns one point under the interim base rule, in the merchant's currency.
MONEY_PER_POINT = Decimal("10.00")


@dataclass(frozen=True, kw_only=True)
class LineItem:
    """One invoice line as the host sent it."""

    id: str
    qty: Decimal
    total: Decimal
    product_id: str | None = None
    sku: str | None = None
    name: str | None = None
    category_id: str | None = None
    unit_price: Decimal | None = None
    discount: Decimal | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class InvoiceFacts:
    """An invoice as the host sent it; amounts in ``currency``."""

    id: str
    currency: str
    total: Decimal
    customer_id: str | None = None
    number: str | None = None
    exchange_rate: Decimal | None = None
    date: date | None = None
    subtotal: Decimal | None = None
    discount_total: Decimal | None = None
    tax_total: Decimal | None = None
    shipping_total: Decimal | None = None
    transaction_fee: Decimal | None = None
    channel: str | None = None
    location: str | None = None
    redemption_id: str | None = None
    items: tuple[LineItem, ...] = ()
    #: ``total`` in the merchant's currency; set by :func:`in_merchant_currency`.
    merchant_total: Decimal | None = None


class EarningRule(Protocol):
    """A rule kind a plugin registers: bonus points on top of an invoice's base points."""

    #: Unique name of the rule kind, e.g. ``weekend_double``.
    name: str

    def bonus(self, invoice: InvoiceFacts, base_points: int) -> int:
        """Extra points (>= 0) this invoice earns under the rule."""
        ...


@dataclass(frozen=True, slots=True)
class InvoicePoints:
    """What an invoice earns, and why (stored as the ledger entry's ``details``)."""

    base: int
    bonuses: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.base + sum(self.bonuses.values())

    def breakdown(self) -> dict[str, object]:
        return {"base": self.base, "bonuses": dict(self.bonuses), "total": self.total}


def in_merchant_currency(invoice: InvoiceFacts, merchant_currency: str) -> Decimal:
    """The invoice total converted with its ``exchange_rate`` (required across currencies)."""
    if invoice.currency == merchant_currency:
        return invoice.total
    if invoice.exchange_rate is None:
        raise ValidationError(
            f"exchange_rate is required for an invoice in {invoice.currency} "
            f"(the merchant's currency is {merchant_currency})",
            field="data.invoice.exchange_rate",
        )
    return invoice.total * invoice.exchange_rate


def points_for_money(amount: Decimal, *, money_per_point: Decimal = MONEY_PER_POINT) -> int:
    """Whole points for ``amount``, rounded down; never negative."""
    if amount <= 0:
        return 0
    return int((amount / money_per_point).to_integral_value(rounding=ROUND_FLOOR))


def reversal_target(*, earned: int, refunded: Decimal, total: Decimal) -> int:
    """Points to have taken back once ``refunded`` of ``total`` was given back.

    Computed on the running refunded sum, not per refund, so the result does not depend on
    the order refunds arrive in.
    """
    if earned <= 0 or refunded <= 0:
        return 0
    if total <= 0 or refunded >= total:
        return earned
    share = Decimal(earned) * refunded / total
    return min(earned, int(share.to_integral_value(rounding=ROUND_FLOOR)))
