"""An invoice as the host sent it, its value in the merchant's currency, and refund values.

What an invoice earns is decided by the merchant's programs (:mod:`loyalty_plugin.domain.
programs`). :func:`reversal_target` still reverses invoices that the retired interim rule
(1 point per 10.00) earned on before the default program replaced it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_FLOOR, Decimal

from loyalty_plugin.domain.errors import ValidationError


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
    #: The store or branch (rule conditions: ``where.stores``, ``where.store_groups``).
    store_id: str | None = None
    redemption_id: str | None = None
    items: tuple[LineItem, ...] = ()
    #: When the invoice was paid, if known (a replayed event's ``occurred_at``).
    occurred_at: datetime | None = None
    #: ``total`` in the merchant's currency; set by :func:`in_merchant_currency`.
    merchant_total: Decimal | None = None


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
