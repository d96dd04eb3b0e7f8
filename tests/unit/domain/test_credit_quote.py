"""Store credit and points offered together on one invoice (#19, phase 2): credit first,
then points, each under its own cap and their sum under the merchant's caps."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from loyalty_plugin.domain.redemption import (
    DraftInvoice,
    RedemptionRules,
    quote,
    quote_with_credit,
)


def invoice(total: str) -> DraftInvoice:
    return DraftInvoice(currency="EUR", total=Decimal(total))


def test_the_worked_example_pays_with_credit_and_points_within_the_combined_cap() -> None:
    """10.00 of credit and 500 points (5.00) on a 30.00 invoice whose cap is 50 %: 15.00."""
    rules = RedemptionRules(max_share_percent=Decimal(50))
    offer = quote_with_credit(
        invoice("30.00"), rules, credit=Decimal("10.00"), balance=500, merchant_currency="EUR"
    )
    assert (offer.credit, offer.points.points, offer.points.amount) == (
        Decimal("10.00"), 500, Decimal("5.00"),
    )  # fmt: skip
    assert offer.total == Decimal("15.00") and offer.credit_bound_by == "balance"


def test_the_combined_cap_leaves_points_what_credit_did_not_take() -> None:
    """A 40 % cap on 30.00 is 12.00: 10.00 of credit leaves 2.00, 200 points."""
    rules = RedemptionRules(max_share_percent=Decimal(40))
    offer = quote_with_credit(
        invoice("30.00"), rules, credit=Decimal("10.00"), balance=500, merchant_currency="EUR"
    )
    assert (offer.credit, offer.points.points, offer.total) == (Decimal("10.00"), 200, Decimal(12))
    assert offer.points.bound_by == "max_share"


def test_credit_has_a_cap_of_its_own() -> None:
    """Credit capped at 20 % of 30.00 takes 6.00; points get up to the 50 % share."""
    rules = RedemptionRules(max_share_percent=Decimal(50))
    offer = quote_with_credit(
        invoice("30.00"), rules, credit=Decimal("10.00"), balance=5000,
        merchant_currency="EUR", credit_cap_percent=Decimal(20),
    )  # fmt: skip
    assert (offer.credit, offer.credit_bound_by) == (Decimal("6.00"), "credit_cap")
    assert (offer.points.points, offer.total) == (900, Decimal("15.00"))


def test_without_credit_the_points_quote_is_unchanged() -> None:
    """No credit: exactly the points-only quote."""
    rules = RedemptionRules(max_share_percent=Decimal(50))
    offer = quote_with_credit(
        invoice("30.00"), rules, credit=Decimal(0), balance=5000, merchant_currency="EUR"
    )
    alone = quote(invoice("30.00"), rules, balance=5000, merchant_currency="EUR")
    assert offer.credit == 0 and offer.points == alone


@given(
    total=st.decimals("0.01", "5000", places=2),
    share=st.integers(0, 100),
    credit_cap=st.integers(0, 100),
    credit=st.decimals("0", "5000", places=2),
    balance=st.integers(0, 10**6),
)
def test_the_sum_never_exceeds_a_cap(total, share, credit_cap, credit, balance) -> None:
    """Credit within its balance and cap; credit plus points within the share cap."""
    rules = RedemptionRules(max_share_percent=Decimal(share))
    offer = quote_with_credit(
        invoice(str(total)), rules, credit=credit, balance=balance, merchant_currency="EUR",
        credit_cap_percent=Decimal(credit_cap),
    )  # fmt: skip
    assert 0 <= offer.credit <= credit
    assert offer.credit <= total * credit_cap / 100
    assert offer.points.points <= balance
    assert offer.total <= total * share / 100
