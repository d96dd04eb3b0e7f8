"""The redemption caps and coupon rules, without a database."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loyalty_plugin.domain.coupons import (
    ALPHABET,
    CouponRules,
    Package,
    coupon_amount,
    coupon_expiry,
    generate_code,
    normalize_code,
)
from loyalty_plugin.domain.errors import ValidationError
from loyalty_plugin.domain.redemption import (
    Bound,
    DraftInvoice,
    DraftItem,
    PointsAtValue,
    PointValue,
    RedemptionMode,
    RedemptionRules,
    quote,
)

D = Decimal


def draft(total: str = "10000.00", **extra: object) -> DraftInvoice:
    return DraftInvoice(currency="EUR", total=D(total), subtotal=D(total), **extra)


def test_share_cap_of_20_percent_allows_200000_points() -> None:
    """20 % of 10,000.00 at 100 points = 1.00 is 200,000 points, bound by the share."""
    rules = RedemptionRules(max_share_percent=D(20))
    offer = quote(draft(), rules, balance=10**9, merchant_currency="EUR")
    assert (offer.points, offer.amount, offer.bound_by) == (200_000, D("2000.00"), Bound.MAX_SHARE)


def test_balance_binds_when_smaller() -> None:
    """With 1,500 points the quote is 1,500, and says the balance bound it."""
    offer = quote(
        draft(), RedemptionRules(max_share_percent=D(20)), balance=1500, merchant_currency="EUR"
    )
    assert (offer.points, offer.allowed, offer.bound_by) == (1500, 200_000, Bound.BALANCE)


def test_allowed_is_what_the_caps_allow_whatever_was_asked() -> None:
    """Asking for 2,000 of the 200,000 the share allows: 2,000 quoted, 200,000 allowed."""
    rules = RedemptionRules(max_share_percent=D(20))
    offer = quote(draft(), rules, balance=10**9, merchant_currency="EUR", requested=2000)
    assert (offer.points, offer.allowed, offer.bound_by) == (2000, 200_000, Bound.REQUESTED)
    poor = quote(draft(), rules, balance=1500, merchant_currency="EUR", requested=2000)
    assert (poor.points, poor.allowed, poor.bound_by) == (1500, 200_000, Bound.BALANCE)


def test_max_points_and_minimum() -> None:
    """The per-invoice maximum caps; fewer points than the minimum give nothing."""
    rules = RedemptionRules(max_points_per_invoice=700, min_points=500)
    assert quote(draft(), rules, balance=5000, merchant_currency="EUR").bound_by == Bound.MAX_POINTS
    poor = quote(draft(), rules, balance=400, merchant_currency="EUR")
    assert (poor.points, poor.bound_by) == (0, Bound.MIN_POINTS)


def test_full_mode_is_all_or_nothing() -> None:
    """In full mode a balance short of the whole allowance gives nothing."""
    rules = RedemptionRules(mode=RedemptionMode.FULL, max_share_percent=D(10))
    assert quote(draft(), rules, balance=100_000, merchant_currency="EUR").points == 100_000
    assert quote(draft(), rules, balance=99_999, merchant_currency="EUR").points == 0


def test_invoice_discount_and_tax_are_spread_over_lines() -> None:
    """An invoice discount and tax follow the lines; excluded lines take their share away."""
    invoice = DraftInvoice(
        currency="EUR",
        subtotal=D("100"),
        discount_total=D("10"),
        tax_total=D("18"),
        total=D("108"),
        items=(DraftItem(total=D("75"), product_id="a"), DraftItem(total=D("25"), product_id="b")),
    )
    rules = RedemptionRules(excluded_products=frozenset({"b"}), pay_tax=True)
    offer = quote(invoice, rules, balance=10**6, merchant_currency="EUR")
    # goods 90 * 75 % = 67.50, tax 18 * 75 % = 13.50
    assert offer.eligible_amount == D("81.00") and offer.points == 8100


def test_value_is_rounded_down_to_the_minor_unit() -> None:
    """3 points = 0.10: 10 points are worth 0.33, never 0.34."""
    rules = RedemptionRules(value=PointValue(points=3, amount=D("0.10")))
    offer = quote(draft("1.00"), rules, balance=10, merchant_currency="EUR")
    assert offer.amount == D("0.33")


@given(
    total=st.decimals(min_value=0, max_value=10**6, places=2),
    share=st.decimals(min_value=0, max_value=100, places=1),
    balance=st.integers(min_value=0, max_value=10**9),
    points=st.integers(min_value=1, max_value=1000),
)
def test_the_quote_never_exceeds_any_cap(total, share, balance, points) -> None:
    """Whatever the numbers, the points fit the balance and their value fits the share."""
    rules = RedemptionRules(
        value=PointValue(points=points, amount=D("1.00")), max_share_percent=share
    )
    offer = quote(draft(str(total)), rules, balance=balance, merchant_currency="EUR")
    assert 0 <= offer.points <= balance
    assert offer.amount <= total * share / 100


CENT = PointValue(points=100, amount=D("1.00"))
TWO_CENTS = PointValue(points=100, amount=D("2.00"))
THIRD = PointValue(points=3, amount=D("0.01"))


def test_a_purse_is_spent_in_order_each_part_at_its_value() -> None:
    """22.00 at most: 2,000 points at 0.01, then 100 at 0.02; the cap is exact."""
    purse = [
        PointsAtValue(points=2000, value=CENT, level="bronze"),
        PointsAtValue(points=150, value=TWO_CENTS, level="gold"),
    ]
    rules = RedemptionRules(value=TWO_CENTS, max_share_percent=D(50))
    offer = quote(draft("44.00"), rules, balance=0, merchant_currency="EUR", purse=purse)
    assert (offer.points, offer.amount, offer.balance) == (2100, D("22.00"), 2150)
    assert [(v.points, v.level, v.rate) for v in offer.values] == [
        (2000, "bronze", D("0.01")),
        (100, "gold", D("0.02")),
    ]
    # What the caps allow whatever the balance: 44.00 of eligible goods at the same values.
    assert offer.limits["eligible_amount"] == 2000 + 150 + (4400 - 2000 - 300) // 2


def test_a_part_worth_a_third_of_a_cent_per_point_is_counted_exactly() -> None:
    """0.01 per 3 points: 1.00 buys exactly 300 of them, not 299."""
    purse = [PointsAtValue(points=1000, value=THIRD)]
    rules = RedemptionRules(value=THIRD)
    offer = quote(draft("1.00"), rules, balance=0, merchant_currency="EUR", purse=purse)
    assert (offer.points, offer.amount) == (300, D("1.00"))


@given(
    total=st.decimals(min_value=0, max_value=10**5, places=2),
    share=st.decimals(min_value=0, max_value=100, places=1),
    parts=st.lists(
        st.tuples(st.integers(1, 10**6), st.integers(1, 500), st.integers(1, 500)), max_size=6
    ),
)
def test_a_purse_quote_never_exceeds_its_cap_nor_the_value_of_the_points(
    total, share, parts
) -> None:
    """The value is the exact sum of the parts taken, rounded down, and fits the share."""
    purse = [
        PointsAtValue(points=p, value=PointValue(points=per, amount=D(cents) / 100))
        for p, per, cents in parts
    ]
    rules = RedemptionRules(value=CENT, max_share_percent=share)
    offer = quote(draft(str(total)), rules, balance=0, merchant_currency="EUR", purse=purse)
    assert 0 <= offer.points <= sum(p for p, _per, _cents in parts)
    assert sum(v.points for v in offer.values) == offer.points
    exact = sum(
        (part.value.amount * taken.points / part.value.points
         for part, taken in zip(purse, offer.values, strict=False)),
        D(0),
    )  # fmt: skip
    assert offer.amount <= total * share / 100
    assert abs(offer.amount - exact) < D("0.01") + D("1e-20")


def test_a_uniform_purse_quotes_as_a_plain_balance() -> None:
    rules = RedemptionRules(value=THIRD, max_share_percent=D(30))
    plain = quote(draft("77.77"), rules, balance=12345, merchant_currency="EUR")
    purse = [PointsAtValue(points=12345, value=THIRD)]
    parted = quote(draft("77.77"), rules, balance=0, merchant_currency="EUR", purse=purse)
    assert (plain.points, plain.amount, plain.limits) == (
        parted.points,
        parted.amount,
        parted.limits,
    )


def test_foreign_invoice_needs_a_sane_rate() -> None:
    """A foreign-currency invoice needs its exchange rate, within sane bounds."""
    usd = DraftInvoice(currency="USD", total=D("10"))
    with pytest.raises(ValidationError) as missing:
        quote(usd, RedemptionRules(), balance=1, merchant_currency="EUR")
    assert missing.value.field == "invoice.exchange_rate"
    silly = DraftInvoice(currency="USD", total=D("10"), exchange_rate=D("0.00000001"))
    with pytest.raises(ValidationError):
        quote(silly, RedemptionRules(), balance=1, merchant_currency="EUR")


def test_codes_are_random_unambiguous_and_grouped() -> None:
    """Codes use 31 unambiguous characters in groups of four; 2,000 never repeat."""
    codes = {generate_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert all(re.fullmatch(f"[{ALPHABET}]{{4}}(-[{ALPHABET}]{{4}}){{2}}", c) for c in codes)
    assert not set("01OIL") & set(ALPHABET)
    assert generate_code("win").startswith("WIN-")
    assert normalize_code(" k7qx-m2pd-9hta ") == "K7QX-M2PD-9HTA"


def test_coupon_conversion_by_rate_and_packages() -> None:
    """Rate conversion rounds down; packages allow only their sizes; minimum applies."""
    assert coupon_amount(150, CouponRules(), currency="EUR") == D("1.50")
    with pytest.raises(ValidationError):
        coupon_amount(50, CouponRules(min_points=100), currency="EUR")
    packs = CouponRules(packages=(Package(points=500, amount=D("5.00")),))
    assert coupon_amount(500, packs, currency="EUR") == D("5.00")
    with pytest.raises(ValidationError):
        coupon_amount(501, packs, currency="EUR")


def test_coupon_expiry_by_days_or_date() -> None:
    """A coupon expires after its days, or at the end of its last day."""
    now = datetime(2026, 1, 15, 12, tzinfo=UTC)
    assert coupon_expiry(CouponRules(valid_days=10), now=now) == datetime(
        2026, 1, 25, 12, tzinfo=UTC
    )
    until = CouponRules(valid_until=date(2026, 3, 31))
    assert coupon_expiry(until, now=now) == datetime(2026, 4, 1, tzinfo=UTC)
    assert coupon_expiry(CouponRules(valid_days=None), now=now) is None
