"""Money: always ``Decimal``, never float, with ISO 4217 currency codes."""

from __future__ import annotations

import re
from decimal import Decimal
from functools import cache

from babel.core import get_global
from babel.numbers import get_currency_precision, get_territory_currencies

from loyalty_plugin.domain.errors import ValidationError

#: What a money string may look like: ASCII digits, an optional sign and point.
DECIMAL_TEXT = re.compile(r"-?[0-9]+(\.[0-9]+)?", re.ASCII)
#: Digits kept after the point for every stored amount (enough for rates and shares).
STORED_SCALE = 4
#: Amounts must stay below this (16 digits before the point, as NUMERIC(20, 4) allows).
MAX_AMOUNT = Decimal(10) ** 16


def parse_money(value: object, *, field: str = "amount") -> Decimal:
    """Parse a JSON string or integer into a finite ``Decimal``; floats are refused."""
    if isinstance(value, bool | float):
        raise ValidationError(
            "money must be a decimal string or an integer, not a float", field=field
        )
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, str):
        # Decimal() also reads "1_000", "1e3" and Arabic-Indic digits: a host never
        # means those, so only plain ASCII digits with an optional point are money.
        if not DECIMAL_TEXT.fullmatch(value.strip()):
            raise ValidationError(
                f"{value!r} is not a decimal amount (digits 0-9 and an optional point, "
                'like "1000.50")',
                field=field,
            )
        amount = Decimal(value.strip())
    else:
        raise ValidationError("money must be a decimal string or an integer", field=field)
    if not amount.is_finite():
        raise ValidationError("money must be a finite number", field=field)
    return check_storable(amount, field=field)


def check_storable(amount: Decimal, *, field: str = "amount") -> Decimal:
    """Refuse amounts the database cannot hold exactly: NUMERIC(20, 4)."""
    if abs(amount) >= MAX_AMOUNT:
        raise ValidationError(f"must be less than {MAX_AMOUNT:,} in size", field=field)
    if amount != amount.quantize(Decimal(1).scaleb(-STORED_SCALE)):
        raise ValidationError(f"must have at most {STORED_SCALE} decimal places", field=field)
    return amount


def check_money(value: object, *, field: str = "amount") -> Decimal:
    """Check that an already-parsed amount is a finite ``Decimal``, not a float."""
    if not isinstance(value, Decimal):
        raise ValidationError(f"money must be a Decimal, got {type(value).__name__}", field=field)
    if not value.is_finite():
        raise ValidationError("money must be a finite number", field=field)
    return value


def check_currency(code: object, *, field: str = "currency") -> str:
    """Return the upper-case ISO 4217 code, or raise naming the field."""
    if not isinstance(code, str) or code.upper() not in currencies_in_use():
        raise ValidationError(
            f"{code!r} is not the ISO 4217 code of a currency in use (e.g. EUR, USD)", field=field
        )
    return code.upper()


@cache
def currencies_in_use() -> frozenset[str]:
    """ISO 4217 codes that are legal tender somewhere today, from CLDR (through babel).

    Leaves out the codes that are not money (``XXX`` "no currency", ``XTS`` for testing,
    ``XAU`` gold) and currencies withdrawn from use (``DEM``).
    """
    return frozenset(
        code
        for territory in get_global("territory_currencies")
        for code in get_territory_currencies(territory, tender=True, non_tender=False)
    )


def quantize(amount: Decimal, currency: str) -> Decimal:
    """Round an amount to the currency's minor unit, half-up as receipts do."""
    exponent = get_currency_precision(check_currency(currency))
    return amount.quantize(Decimal(1).scaleb(-exponent), rounding="ROUND_HALF_UP")


def minor_digits(currency: str) -> int:
    """Digits of the currency's minor unit, from CLDR through Babel (EUR 2, JPY 0, BHD 3)."""
    return int(get_currency_precision(check_currency(currency)))


def to_minor(amount: Decimal, currency: str, *, field: str = "amount") -> int:
    """An exact amount as an integer of the currency's minor unit (``10.50`` EUR → 1050).

    Refuses an amount finer than the minor unit: round it first (:func:`quantize`, or
    :func:`round_credit` for credit earned).
    """
    check_money(amount, field=field)
    minor = amount.scaleb(minor_digits(currency))
    if minor != minor.to_integral_value():
        raise ValidationError(
            f"{amount} {currency} is finer than the currency's smallest unit", field=field
        )
    return int(minor)


def from_minor(units: int, currency: str) -> Decimal:
    """Minor units as money with the currency's digits (1050 EUR → ``Decimal("10.50")``)."""
    digits = minor_digits(currency)
    return (Decimal(units).scaleb(-digits)).quantize(Decimal(1).scaleb(-digits))


def round_credit(amount: Decimal, currency: str) -> int:
    """Credit earned, rounded *down* to the minor unit, in minor units.

    Down, as points are by default: a customer is never given a fraction of a cent the
    merchant did not promise, and the sum of the parts never exceeds the promise.
    """
    digits = minor_digits(currency)
    return int(amount.scaleb(digits).to_integral_value(rounding="ROUND_FLOOR"))
