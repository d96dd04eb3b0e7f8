"""Money: always ``Decimal``, never float, with ISO 4217 currency codes."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from babel.numbers import get_currency_precision, is_currency

from loyalty_plugin.domain.errors import ValidationError

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
    elif isinstance(value, int | str):
        try:
            amount = Decimal(str(value).strip())
        except InvalidOperation:
            raise ValidationError(f"{value!r} is not a decimal amount", field=field) from None
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
    if not isinstance(code, str) or len(code) != 3 or not is_currency(code.upper()):
        raise ValidationError(f"{code!r} is not an ISO 4217 currency code", field=field)
    return code.upper()


def quantize(amount: Decimal, currency: str) -> Decimal:
    """Round an amount to the currency's minor unit, half-up as receipts do."""
    exponent = get_currency_precision(check_currency(currency))
    return amount.quantize(Decimal(1).scaleb(-exponent), rounding="ROUND_HALF_UP")
