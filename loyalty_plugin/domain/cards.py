"""Loyalty card numbers: a scheme (prefix, length, check digit), checking and drawing numbers.

A card number is all digits: the scheme's ``prefix``, random digits, and (unless the
scheme says ``none``) one check digit computed by python-stdnum, so that a mistyped digit
at the till is caught before any look-up. The check digit algorithms offered are the
single-digit, digits-only ones stdnum has: Luhn (ISO/IEC 7812, the one payment and most
loyalty cards carry), Verhoeff, Damm and ISO 7064 Mod 11,10. Verhoeff and Damm also catch
every swap of two adjacent digits, which Luhn misses for ``09``/``90``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

from stdnum import damm, luhn, verhoeff
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.iso7064 import mod_11_10

from loyalty_plugin.domain.errors import ValidationError

#: Check digit algorithms by the name a scheme stores; ``none`` adds no check digit.
CHECK_DIGITS: dict[str, ModuleType | None] = {
    "luhn": luhn,
    "verhoeff": verhoeff,
    "damm": damm,
    "mod_11_10": mod_11_10,
    "none": None,
}
#: Shortest and longest card number (ISO/IEC 7812 allows 8 to 19 digits).
MIN_LENGTH, MAX_LENGTH = 8, 19
#: Random digits a generated number needs at least, so that numbers are not guessable.
MIN_RANDOM_DIGITS = 4
#: Longest prefix.
MAX_PREFIX = 12
#: Longest number accepted from an import or a look-up (pre-printed cards, host numbers).
MAX_NUMBER = 64
#: Most cards one generation or import makes.
MAX_BATCH = 50_000


@dataclass(frozen=True, kw_only=True)
class NumberScheme:
    """How the numbers of a batch look: ``prefix`` + random digits + check digit."""

    prefix: str = ""
    length: int = 13
    check_digit: str = "luhn"

    def __post_init__(self) -> None:
        if self.check_digit not in CHECK_DIGITS:
            known = ", ".join(CHECK_DIGITS)
            raise ValidationError(
                f"unknown check digit {self.check_digit!r}; one of {known}", field="check_digit"
            )
        if not MIN_LENGTH <= self.length <= MAX_LENGTH:
            raise ValidationError(f"must be {MIN_LENGTH} to {MAX_LENGTH} digits", field="length")
        if self.prefix and not (self.prefix.isascii() and self.prefix.isdigit()):
            raise ValidationError("must be digits only", field="prefix")
        if len(self.prefix) > MAX_PREFIX:
            raise ValidationError(f"must be at most {MAX_PREFIX} digits", field="prefix")
        if self.random_digits < MIN_RANDOM_DIGITS:
            raise ValidationError(
                f"leaves {self.random_digits} random digits; a number needs at least "
                f"{MIN_RANDOM_DIGITS} (make it longer or the prefix shorter)",
                field="length",
            )

    @property
    def check_length(self) -> int:
        """Digits the check digit takes: 1, or 0 for ``none``."""
        return 0 if CHECK_DIGITS[self.check_digit] is None else 1

    @property
    def random_digits(self) -> int:
        """Digits between the prefix and the check digit."""
        return self.length - len(self.prefix) - self.check_length

    @property
    def capacity(self) -> int:
        """How many different numbers the scheme has."""
        return 10**self.random_digits

    def complete(self, body: str) -> str:
        """``body`` (prefix and random digits) with its check digit appended."""
        algorithm = CHECK_DIGITS[self.check_digit]
        return body if algorithm is None else body + algorithm.calc_check_digit(body)

    def draw(self, randbelow: Callable[[int], int] = secrets.randbelow) -> str:
        """One random number of the scheme (unpredictable: drawn with :mod:`secrets`)."""
        digits = str(randbelow(self.capacity)).zfill(self.random_digits)
        return self.complete(self.prefix + digits)

    def check(self, number: str, *, field: str = "number") -> str:
        """``number`` normalised (spaces and dashes dropped) if it fits the scheme.

        :raises ValidationError: naming ``field``: not digits, wrong prefix or length, or
            a check digit that does not match.
        """
        digits = normalise(number, field=field)
        if not digits.isdigit():
            raise ValidationError("must be digits only", field=field)
        if len(digits) != self.length:
            raise ValidationError(f"must be {self.length} digits, not {len(digits)}", field=field)
        if not digits.startswith(self.prefix):
            raise ValidationError(f"must start with {self.prefix}", field=field)
        algorithm = CHECK_DIGITS[self.check_digit]
        if algorithm is not None:
            try:
                algorithm.validate(digits)
            except StdnumError:
                raise ValidationError(
                    f"the check digit does not match ({self.check_digit}); is a digit mistyped?",
                    field=field,
                ) from None
        return digits

    def example(self) -> str:
        """A number of the scheme, for forms and documentation (all random digits 0)."""
        return self.complete(self.prefix + "0" * self.random_digits)


def normalise(number: str, *, field: str = "card_number") -> str:
    """A card number as stored: spaces and dashes dropped, letters upper-cased.

    Numbers the host or a pre-printed batch brings may hold letters; generated ones are
    digits only.

    :raises ValidationError: naming ``field`` when it is empty, too long or holds anything
        but ASCII letters and digits.
    """
    text = "".join(number.split()).replace("-", "").upper()
    if not text:
        raise ValidationError("must not be empty", field=field)
    if len(text) > MAX_NUMBER:
        raise ValidationError(f"must be at most {MAX_NUMBER} characters", field=field)
    if not (text.isascii() and text.isalnum()):
        raise ValidationError("must hold only letters and digits", field=field)
    return text
