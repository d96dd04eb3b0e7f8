"""Card number schemes: check digits are stdnum's, and a number that does not fit is told why."""

from __future__ import annotations

import random

import pytest
from stdnum import damm, luhn, verhoeff
from stdnum.iso7064 import mod_11_10

from loyalty_plugin.domain.cards import CHECK_DIGITS, NumberScheme, normalise
from loyalty_plugin.domain.errors import ValidationError
from loyalty_plugin.domain.imports import BadRow, CardRow, read_card_numbers

VALIDATORS = {"luhn": luhn, "verhoeff": verhoeff, "damm": damm, "mod_11_10": mod_11_10}


@pytest.mark.parametrize("algorithm", sorted(VALIDATORS))
def test_drawn_numbers_carry_stdnums_check_digit(algorithm: str) -> None:
    """Every drawn number has the prefix, the length and a check digit stdnum accepts."""
    scheme = NumberScheme(prefix="2977", length=13, check_digit=algorithm)
    for _ in range(500):
        number = scheme.draw()
        assert len(number) == 13
        assert number.startswith("2977")
        assert VALIDATORS[algorithm].is_valid(number)
        assert scheme.check(number) == number


def test_a_known_luhn_number() -> None:
    """The textbook Luhn number 79927398713 completes and checks."""
    scheme = NumberScheme(prefix="7992", length=11, check_digit="luhn")
    assert scheme.complete("7992739871") == "79927398713"
    assert scheme.check("7992 7398 713") == "79927398713"


@pytest.mark.parametrize("algorithm", sorted(VALIDATORS))
def test_one_mistyped_digit_is_caught(algorithm: str) -> None:
    """Changing any one digit of a number makes its check digit fail."""
    scheme = NumberScheme(prefix="5", length=12, check_digit=algorithm)
    number = scheme.draw(random.Random(7).randrange)
    for position in range(len(number)):
        wrong = str((int(number[position]) + 3) % 10)
        typo = number[:position] + wrong + number[position + 1 :]
        with pytest.raises(ValidationError) as refused:
            scheme.check(typo, field="card_number")
        assert refused.value.field == "card_number"


def test_verhoeff_catches_the_swap_luhn_misses() -> None:
    """Luhn cannot see 09 swapped to 90; Verhoeff and Damm can."""
    luhn_scheme = NumberScheme(prefix="", length=8, check_digit="luhn")
    good = luhn_scheme.complete("1234509")
    swapped = "1234590" + good[-1]
    assert luhn.is_valid(swapped)  # the weakness, as stdnum computes it
    for name in ("verhoeff", "damm"):
        scheme = NumberScheme(prefix="", length=8, check_digit=name)
        with pytest.raises(ValidationError):
            scheme.check("1234590" + scheme.complete("1234509")[-1])


def test_no_check_digit_means_all_random() -> None:
    """``none`` adds no digit: the random part takes the whole length after the prefix."""
    scheme = NumberScheme(prefix="12", length=10, check_digit="none")
    assert scheme.random_digits == 8
    assert scheme.capacity == 10**8
    assert len(scheme.draw()) == 10


@pytest.mark.parametrize(
    ("kwargs", "field", "words"),
    [
        ({"check_digit": "crc32"}, "check_digit", "unknown check digit"),
        ({"length": 7}, "length", "8 to 19"),
        ({"length": 20}, "length", "8 to 19"),
        ({"prefix": "12a"}, "prefix", "digits only"),
        ({"prefix": "\uff11\uff12"}, "prefix", "digits only"),  # full-width digits
        ({"prefix": "1234567890123"}, "prefix", "at most 12"),
        ({"prefix": "1234567", "length": 11}, "length", "3 random digits"),
    ],
)
def test_a_bad_scheme_names_its_field(kwargs: dict, field: str, words: str) -> None:
    with pytest.raises(ValidationError) as refused:
        NumberScheme(**kwargs)
    assert refused.value.field == field
    assert words in refused.value.message


@pytest.mark.parametrize(
    ("number", "words"),
    [
        ("297700000000", "13 digits, not 12"),
        ("1977000000004", "must start with 2977"),
        ("29770000A0000", "digits only"),
        ("2977000000001", "check digit does not match (luhn)"),
    ],
)
def test_a_number_off_the_scheme_says_why(number: str, words: str) -> None:
    scheme = NumberScheme(prefix="2977", length=13, check_digit="luhn")
    with pytest.raises(ValidationError) as refused:
        scheme.check(number)
    assert words in refused.value.message
    assert refused.value.field == "number"


def test_normalise_drops_spaces_and_dashes() -> None:
    assert normalise(" 2977-0000 0000 04 ") == "29770000000004"
    assert normalise("ab-12") == "AB12"
    for bad in ("", "  ", "12/34", "x" * 65, "١٢٣"):
        with pytest.raises(ValidationError):
            normalise(bad)


def test_every_scheme_offered_is_a_stdnum_module() -> None:
    """The list of algorithms is stdnum's modules (and ``none``), nothing hand-written."""
    assert {k: v for k, v in CHECK_DIGITS.items() if v is not None} == VALIDATORS


def test_a_cards_file_is_read_line_by_line() -> None:
    """Good numbers come back normalised; a bad one names its line and the field."""
    scheme = NumberScheme(prefix="2977", length=13, check_digit="luhn")
    good = scheme.draw()
    lines = ["number\n", f"{good[:4]} {good[4:]}\n", "\n", "2977000000001\n", "\n"]
    rows = list(read_card_numbers(lines, check=scheme.check))
    assert rows[0] == CardRow(2, good)
    assert isinstance(rows[1], BadRow)
    (error,) = rows[1].errors
    assert (error.line, error.field) == (4, "number")
    assert "check digit" in error.message


def test_a_cards_file_needs_its_header() -> None:
    rows = list(read_card_numbers(["card\n", "123\n"], check=normalise))
    assert isinstance(rows[0], BadRow)
    assert rows[0].errors[0].line == 1
