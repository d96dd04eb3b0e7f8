"""Paying an invoice with points: what a point is worth and how many an invoice may take.

Pure rules: the settings arrive as a :class:`RedemptionRules` dataclass (today one per
merchant; programs will carry their own), the invoice as a :class:`DraftInvoice`, and the
answer is a :class:`Quote` that names the cap that bound it. The same calculation answers
``POST /checkout/quote`` and decides how many points a hold may take.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from fractions import Fraction

from babel.numbers import get_currency_precision

from loyalty_plugin.domain.errors import ValidationError
from loyalty_plugin.domain.money import check_currency
from loyalty_plugin.domain.points import check_points

ZERO = Decimal(0)
HUNDRED = Decimal(100)
#: Exchange rates outside [MIN_RATE, 1 / MIN_RATE] are refused as mistakes.
MIN_RATE = Decimal("0.0001")
#: The most a point value or coupon conversion amount may be.
MAX_AMOUNT = Decimal(1_000_000)


class RedemptionMode(enum.StrEnum):
    """Whether a customer may pay part of the allowed amount with points."""

    #: Any number of points from the minimum up to the allowed maximum.
    PARTIAL = "partial"
    #: All of the allowed amount or nothing.
    FULL = "full"


class Bound(enum.StrEnum):
    """The cap that decided how many points an invoice can take."""

    #: The customer's spendable balance.
    BALANCE = "balance"
    #: The merchant's maximum points per invoice.
    MAX_POINTS = "max_points_per_invoice"
    #: The maximum share of the invoice payable with points.
    MAX_SHARE = "max_share"
    #: What may be paid with points at all (excluded products, tax, shipping).
    ELIGIBLE_AMOUNT = "eligible_amount"
    #: The number of points the customer asked for.
    REQUESTED = "requested"
    #: Fewer points than the minimum to redeem were available.
    MIN_POINTS = "min_points"


@dataclass(frozen=True, kw_only=True)
class PointValue:
    """``points`` points are worth ``amount`` in the merchant's currency (100 = 1.00)."""

    points: int = 100
    amount: Decimal = Decimal("1.00")

    def __post_init__(self) -> None:
        check_points(self.points, field="conversion_points")
        if not isinstance(self.amount, Decimal) or not 0 < self.amount <= MAX_AMOUNT:
            raise ValidationError(
                f"a point value is above 0 and at most {MAX_AMOUNT}", field="conversion_amount"
            )

    def money(self, points: int, *, exchange_rate: Decimal = Decimal(1)) -> Decimal:
        """The exact value of ``points`` in a currency ``exchange_rate`` converts from."""
        return points * self.amount / self.points / exchange_rate


@dataclass(frozen=True, kw_only=True)
class PointsAtValue:
    """Some of a customer's points, in spending order, and what each of them is worth.

    With fallback redemption a customer's points are worth what the level they were
    earned at says, so a balance is a sequence of these rather than one number.
    """

    points: int
    value: PointValue
    #: The membership level that sets this value (``None``: the merchant's value).
    level: str | None = None

    def per_point(self) -> Fraction:
        """The exact value of one point in the merchant's currency."""
        return Fraction(self.value.amount) / self.value.points


@dataclass(frozen=True, kw_only=True)
class QuotedValue:
    """Quoted points of one value: how many, the level behind it, and their exact worth."""

    points: int
    level: str | None
    #: Value of one point in the invoice's currency (exact).
    rate: Decimal


@dataclass(frozen=True, kw_only=True)
class RedemptionRules:
    """A merchant's (later: a program's) redemption settings, with their defaults."""

    value: PointValue = field(default_factory=PointValue)
    #: The fewest points one redemption may use.
    min_points: int = 0
    #: Percentage of the invoice total payable with points (0-100).
    max_share_percent: Decimal = HUNDRED
    #: At most this many points on one invoice; ``None`` for no limit.
    max_points_per_invoice: int | None = None
    excluded_products: frozenset[str] = frozenset()
    excluded_categories: frozenset[str] = frozenset()
    #: Whether points may pay the invoice's tax and its shipping.
    pay_tax: bool = False
    pay_shipping: bool = False
    mode: RedemptionMode = RedemptionMode.PARTIAL


@dataclass(frozen=True, kw_only=True)
class DraftItem:
    """One invoice line as far as redemption cares: what it is and what it costs."""

    total: Decimal
    product_id: str | None = None
    category_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class DraftInvoice:
    """An invoice not yet paid (or just about to be), in its own currency."""

    currency: str
    total: Decimal
    subtotal: Decimal | None = None
    discount_total: Decimal = ZERO
    tax_total: Decimal = ZERO
    shipping_total: Decimal = ZERO
    #: Multiply an invoice amount by this to get the merchant's currency.
    exchange_rate: Decimal | None = None
    items: tuple[DraftItem, ...] = ()
    id: str | None = None


@dataclass(frozen=True, kw_only=True)
class Quote:
    """How many points an invoice can take, their value, and what bound the answer."""

    points: int
    #: Points the merchant's caps allow on the invoice, whatever the balance and whatever
    #: was requested (``points`` <= this).
    allowed: int
    #: Value of ``points`` in the invoice's currency, rounded down to its minor unit.
    amount: Decimal
    currency: str
    #: Value of one point in the invoice's currency (exact).
    rate: Decimal
    exchange_rate: Decimal
    bound_by: Bound
    #: Each cap expressed in points (``None``: the cap does not apply).
    limits: dict[str, int | None]
    #: What points may pay on this invoice, before the share cap, in its currency.
    eligible_amount: Decimal
    balance: int
    min_points: int
    #: The quoted points by value, in spending order (one row unless fallback redemption
    #: values points at the level they were earned at).
    values: tuple[QuotedValue, ...] = ()


def eligible_amount(invoice: DraftInvoice, rules: RedemptionRules) -> Decimal:
    """The part of the invoice points may pay: allowed goods, and tax or shipping if allowed.

    Goods are the subtotal less discounts (without a subtotal: the lines, or the total less
    tax and shipping). Invoice-level discounts and tax are spread over the lines in
    proportion to their totals.
    """
    if invoice.subtotal is not None:
        goods = invoice.subtotal - invoice.discount_total
    elif invoice.items:
        goods = _sum(i.total for i in invoice.items) - invoice.discount_total
    else:
        goods = invoice.total - invoice.tax_total - invoice.shipping_total
    goods = max(goods, ZERO)
    share = Decimal(1)
    lines = _sum(item.total for item in invoice.items)
    if invoice.items and lines > 0:
        allowed = _sum(item.total for item in invoice.items if not _excluded(item, rules))
        share = allowed / lines
    elif invoice.items:
        share = ZERO
    amount = goods * share
    if rules.pay_tax:
        amount += invoice.tax_total * share
    if rules.pay_shipping:
        amount += invoice.shipping_total
    return min(amount, invoice.total)


def quote(
    invoice: DraftInvoice,
    rules: RedemptionRules,
    *,
    balance: int,
    merchant_currency: str,
    requested: int | None = None,
    purse: Sequence[PointsAtValue] | None = None,
    paid_with_credit: Decimal = ZERO,
) -> Quote:
    """The points usable on ``invoice`` after every cap, for a customer holding ``balance``.

    ``purse`` gives the balance in spending order with each part's value (fallback
    redemption); without it every point is worth ``rules.value``. Points beyond the
    balance (for ``allowed``) are valued at ``rules.value``. ``paid_with_credit``: store
    credit already taking part of the invoice (:func:`quote_with_credit`): the share cap
    and the eligible amount apply to the sum, so points get what credit leaves of them.
    """
    if purse is None:
        purse = (PointsAtValue(points=max(balance, 0), value=rules.value),)
    else:
        balance = sum(part.points for part in purse)
    rate_in = exchange_rate(invoice, merchant_currency)
    eligible = eligible_amount(invoice, rules) - paid_with_credit
    by_share = invoice.total * rules.max_share_percent / HUNDRED - paid_with_credit

    def within(amount: Decimal) -> int:
        budget = Fraction(max(amount, ZERO)) * Fraction(rate_in)
        return points_within(purse, budget, tail=rules.value)

    limits: dict[str, int | None] = {
        Bound.REQUESTED: requested,
        Bound.BALANCE: max(balance, 0),
        Bound.MAX_POINTS: rules.max_points_per_invoice,
        Bound.MAX_SHARE: within(by_share),
        Bound.ELIGIBLE_AMOUNT: within(eligible),
    }
    points, bound, allowed = _tightest(limits, rules)
    if points and points < rules.min_points:
        points, bound = 0, Bound.MIN_POINTS
    taken = take(purse, points)
    worth = sum((part.per_point() * part.points for part in taken), Fraction(0))
    return Quote(
        points=points,
        allowed=allowed,
        amount=_floor_money(worth / Fraction(rate_in), invoice.currency),
        currency=invoice.currency,
        rate=rules.value.money(1, exchange_rate=rate_in),
        exchange_rate=rate_in,
        bound_by=bound,
        limits={str(k): v for k, v in limits.items()},
        eligible_amount=round_down(max(eligible, ZERO), invoice.currency),
        balance=balance,
        min_points=rules.min_points,
        values=tuple(
            QuotedValue(
                points=part.points,
                level=part.level,
                rate=part.value.money(1, exchange_rate=rate_in),
            )
            for part in taken
        ),
    )


@dataclass(frozen=True, kw_only=True)
class CreditQuote:
    """Store credit and points offered together on one invoice (issue #19, phase 2).

    Credit is offered first (it is money: a customer's 10.00 pays 10.00), up to its own
    cap, then points up to what the caps on their **sum** leave (the share cap and the
    eligible amount apply to credit plus points).
    """

    credit: Decimal
    currency: str
    #: Credit the customer holds in the invoice's currency (spendable).
    credit_balance: Decimal
    #: What bound the credit: ``balance``, ``credit_cap``, ``max_share``, ``eligible_amount``
    #: or ``requested``.
    credit_bound_by: str
    points: Quote
    #: Each cap on the credit in money (``requested`` only when asked), in the currency.
    credit_limits: dict[str, Decimal] = field(default_factory=dict)

    @property
    def total(self) -> Decimal:
        """Money both take off the invoice."""
        return self.credit + self.points.amount


def quote_with_credit(
    invoice: DraftInvoice,
    rules: RedemptionRules,
    *,
    credit: Decimal,
    balance: int,
    merchant_currency: str,
    credit_cap_percent: Decimal = HUNDRED,
    requested_credit: Decimal | None = None,
    requested_points: int | None = None,
    purse: Sequence[PointsAtValue] | None = None,
) -> CreditQuote:
    """Credit, then points, usable on ``invoice``: each under its own cap (credit:
    ``credit_cap_percent`` of the total; points: ``rules``' caps in points), their sum
    under the share cap and the eligible amount. ``credit`` is the customer's credit in
    the invoice's currency."""
    eligible = eligible_amount(invoice, rules)
    limits = {
        "balance": max(credit, ZERO),
        "credit_cap": invoice.total * credit_cap_percent / HUNDRED,
        "max_share": invoice.total * rules.max_share_percent / HUNDRED,
        "eligible_amount": eligible,
    }
    if requested_credit is not None:
        limits["requested"] = max(requested_credit, ZERO)
    limits = {name: round_down(max(v, ZERO), invoice.currency) for name, v in limits.items()}
    bound = min(limits, key=lambda name: limits[name])
    used = limits[bound]
    points = quote(
        invoice, rules, balance=balance, merchant_currency=merchant_currency,
        requested=requested_points, purse=purse, paid_with_credit=used,
    )  # fmt: skip
    return CreditQuote(
        credit=used,
        currency=invoice.currency,
        credit_balance=credit,
        credit_bound_by=bound,
        points=points,
        credit_limits=limits,
    )


def points_within(purse: Sequence[PointsAtValue], budget: Fraction, *, tail: PointValue) -> int:
    """The most points, taken in ``purse`` order, worth at most ``budget`` (merchant money).

    Points beyond the purse are worth ``tail``.
    """
    taken = 0
    for part in purse:
        per_point = part.per_point()
        whole = per_point * part.points
        if whole > budget:
            return taken + math.floor(budget / per_point)
        budget -= whole
        taken += part.points
    return taken + math.floor(budget * tail.points / Fraction(tail.amount))


def take(purse: Sequence[PointsAtValue], points: int) -> list[PointsAtValue]:
    """The first ``points`` of ``purse``, split where they end (spending order)."""
    taken: list[PointsAtValue] = []
    for part in purse:
        if points <= 0:
            break
        used = min(points, part.points)
        if used:
            taken.append(PointsAtValue(points=used, value=part.value, level=part.level))
        points -= used
    return taken


def _floor_money(amount: Fraction, currency: str) -> Decimal:
    """An exact amount cut to the currency's minor unit (never rounded up)."""
    digits = get_currency_precision(currency)
    minor = math.floor(amount * 10**digits)
    return Decimal(minor).scaleb(-digits).quantize(Decimal(1).scaleb(-digits))


def round_down(amount: Decimal, currency: str) -> Decimal:
    """``amount`` cut to the currency's minor unit (never rounded up)."""
    return amount.quantize(Decimal(1).scaleb(-get_currency_precision(currency)), ROUND_DOWN)


def exchange_rate(invoice: DraftInvoice, merchant_currency: str) -> Decimal:
    """The invoice's rate to the merchant's currency: 1 for the same currency, else given."""
    if check_currency(invoice.currency) == check_currency(merchant_currency):
        return Decimal(1)
    if invoice.exchange_rate is None:
        raise ValidationError(
            f"an invoice in {invoice.currency} needs its exchange rate to {merchant_currency}",
            field="invoice.exchange_rate",
        )
    if not MIN_RATE <= invoice.exchange_rate <= 1 / MIN_RATE:
        raise ValidationError(
            f"an exchange rate is between {MIN_RATE} and {1 / MIN_RATE}",
            field="invoice.exchange_rate",
        )
    return invoice.exchange_rate


def _tightest(limits: dict[Bound, int | None], rules: RedemptionRules) -> tuple[int, Bound, int]:
    """The points usable, the cap that bound them, and what the caps alone allow.

    What the caps allow ignores both the balance and the points requested. In ``full``
    mode it is all of the allowed amount or nothing, whatever was requested.
    """
    ignored = {Bound.BALANCE, Bound.REQUESTED}
    caps = {bound: v for bound, v in limits.items() if v is not None and bound not in ignored}
    allowed_bound = min(caps, key=lambda b: caps[b])
    allowed = max(caps[allowed_bound], 0)
    usable, bound = allowed, allowed_bound
    requested = limits[Bound.REQUESTED]
    if rules.mode != RedemptionMode.FULL and requested is not None and requested <= usable:
        usable, bound = max(requested, 0), Bound.REQUESTED
    balance = limits[Bound.BALANCE] or 0
    if balance < usable:
        return (0 if rules.mode == RedemptionMode.FULL else balance), Bound.BALANCE, allowed
    return usable, bound, allowed


def _excluded(item: DraftItem, rules: RedemptionRules) -> bool:
    return (item.product_id is not None and item.product_id in rules.excluded_products) or (
        item.category_id is not None and item.category_id in rules.excluded_categories
    )


def _sum(values: Iterable[Decimal]) -> Decimal:
    return sum(values, ZERO)
