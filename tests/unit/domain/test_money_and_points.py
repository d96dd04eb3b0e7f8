"""Money is Decimal and never float; points are non-zero integers."""

from decimal import Decimal

import pytest

from loyalty_plugin.domain.errors import ValidationError
from loyalty_plugin.domain.money import (
    check_currency,
    check_money,
    from_minor,
    parse_money,
    quantize,
    round_credit,
    to_minor,
)
from loyalty_plugin.domain.points import check_points


@pytest.mark.parametrize(
    ("raw", "expected"), [("10000.00", Decimal("10000.00")), (15, Decimal(15))]
)
def test_money_parses_strings_and_integers_exactly(raw: object, expected: Decimal) -> None:
    """JSON strings and integers become the exact Decimal."""
    assert parse_money(raw) == expected


@pytest.mark.parametrize("raw", [0.1, True, "abc", "NaN", "Infinity", None, [1]])
def test_money_refuses_floats_and_garbage(raw: object) -> None:
    """A float, a boolean or a non-number is refused, naming the field."""
    with pytest.raises(ValidationError) as info:
        parse_money(raw, field="total")
    assert info.value.field == "total"


def test_check_money_refuses_float() -> None:
    """Already-parsed money must be a Decimal."""
    with pytest.raises(ValidationError):
        check_money(1.5)


def test_currency_codes() -> None:
    """ISO 4217 codes pass in any case; unknown ones name the field."""
    assert check_currency("eur") == "EUR"
    with pytest.raises(ValidationError) as info:
        check_currency("EURO")
    assert info.value.field == "currency"


def test_quantize_uses_the_currency_minor_unit() -> None:
    """Yen have no minor unit, dinars three, euros two."""
    assert quantize(Decimal("10.5"), "JPY") == Decimal(11)
    assert quantize(Decimal("1.0005"), "KWD") == Decimal("1.001")
    assert quantize(Decimal("2.345"), "EUR") == Decimal("2.35")


@pytest.mark.parametrize("value", [0, 1.0, "5", True, None])
def test_points_must_be_nonzero_integers(value: object) -> None:
    """Zero, floats, strings and booleans are not points."""
    with pytest.raises(ValidationError):
        check_points(value)


def test_negative_points_only_where_allowed() -> None:
    """A debit-or-credit field accepts negative points; a credit field does not."""
    assert check_points(-5, positive=False) == -5
    with pytest.raises(ValidationError, match="greater than 0"):
        check_points(-5)


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [("10.50", "EUR", 1050), ("1500", "JPY", 1500), ("1.234", "BHD", 1234), ("0", "EUR", 0)],
)
def test_credit_is_kept_in_the_currencys_minor_unit(amount, currency, minor) -> None:
    """Store credit is an integer of the minor unit Babel gives the currency (#19)."""
    assert to_minor(Decimal(amount), currency) == minor
    assert from_minor(minor, currency) == Decimal(amount)
    assert str(from_minor(minor, currency)).count(".") == (currency != "JPY")


def test_credit_finer_than_the_minor_unit_is_refused_or_rounded_down() -> None:
    """An exact amount must fit the minor unit; credit earned is rounded down to it."""
    with pytest.raises(ValidationError):
        to_minor(Decimal("0.005"), "EUR")
    assert round_credit(Decimal("10.009"), "EUR") == 1000
    assert round_credit(Decimal("99.5"), "JPY") == 99
