"""Store credit: the merchant's wallet setting and the credit rules award (issue #19).

Credit is money a customer holds with a merchant. The ledger keeps it as integers of the
currency's minor unit (see :mod:`loyalty_plugin.domain.ledger`); this module holds the pure
rules around it: which currencies a merchant's wallet takes, and how much credit a rule's
``reward`` gives.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from babel.numbers import get_currency_precision

from loyalty_plugin.domain.errors import ValidationError
from loyalty_plugin.domain.expiry import end_of_day
from loyalty_plugin.domain.money import check_currency

HUNDRED = Decimal(100)

#: The most currencies one wallet may hold.
MAX_WALLET_CURRENCIES = 20
#: The longest a merchant may let store credit last, in months (ten years).
MAX_CREDIT_EXPIRY_MONTHS = 120


def parse_wallet(value: object, *, field: str = "credit_currencies") -> list[str]:
    """The wallet's currencies as upper-case ISO 4217 codes, each once, in the given order.

    ``None`` or an empty list: no wallet (points only). An unknown code is refused naming
    its place in ``field`` (``credit_currencies.1``), as the API's schema names a bad item.
    """
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValidationError('a list of ISO 4217 currency codes, like ["EUR"]', field=field)
    codes: list[str] = []
    for index, code in enumerate(value):
        checked = check_currency(code, field=f"{field}.{index}")
        if checked not in codes:
            codes.append(checked)
    if len(codes) > MAX_WALLET_CURRENCIES:
        raise ValidationError(f"at most {MAX_WALLET_CURRENCIES} currencies", field=field)
    return codes


@dataclass(frozen=True, slots=True)
class CreditReward:
    """What a rule gives in store credit besides (or instead of) its points.

    ``percent``: that share of the money the rule's points were computed on (each award's
    ``base``); ``amount``: a fixed amount once per invoice the rule earns on. Exact money
    in the program's currency; rounded down to the minor unit only when settled.
    """

    percent: Decimal | None = None
    amount: Decimal | None = None
    #: The rule gives credit instead of its points.
    instead_of_points: bool = False

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> CreditReward | None:
        """The reward a stored rule's ``reward`` object describes (``None``: points only)."""
        if not config:
            return None
        percent, amount = config.get("credit_percent"), config.get("credit_amount")
        return cls(
            percent=None if percent is None else Decimal(str(percent)),
            amount=None if amount is None else Decimal(str(amount)),
            instead_of_points=bool(config.get("instead_of_points", False)),
        )

    def note(self) -> str:
        """How the breakdown names it: ``5% back`` or ``fixed credit``."""
        return f"{self.percent.normalize():f}% back" if self.percent is not None else "fixed credit"


#: The ``kind`` of a credit award in a breakdown.
CREDIT = "credit"


# -- expiry ------------------------------------------------------------------------------


def check_credit_expiry(value: object, *, field: str = "credit_expiry_months") -> int | None:
    """The months store credit lasts (``None``: it never expires), or a refusal."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError("a whole number of months, or null for never", field=field)
    if not 1 <= value <= MAX_CREDIT_EXPIRY_MONTHS:
        raise ValidationError(
            f"credit lasts 1 to {MAX_CREDIT_EXPIRY_MONTHS} months (null: never)", field=field
        )
    return value


def credit_expiry_date(months: int | None, earned_at: datetime, tz: ZoneInfo) -> datetime | None:
    """When credit earned at ``earned_at`` expires (UTC), ``months`` after, or ``None``.

    The same calendar day ``months`` later in the merchant's zone (the month's last day
    when it is shorter) is the last day the credit counts: earned on 31 January 2026 with
    12 months, it can be spent until the end of 31 January 2027.
    """
    if months is None:
        return None
    local = earned_at.astimezone(tz).date()
    year, month = divmod(local.month - 1 + months, 12)
    year, month = local.year + year, month + 1
    last = (date(year + month // 12, month % 12 + 1, 1) - date(year, month, 1)).days
    return end_of_day(date(year, month, min(local.day, last)), tz)


def credit_for_points(points: int, *, rate_points: int, rate_amount: Decimal, currency: str) -> int:
    """The store credit, in minor units of ``currency``, that ``points`` become at the
    merchant's rate (``rate_points`` points are ``rate_amount``), rounded down: never more
    than the rate promises. Refuses a number of points worth less than the minor unit."""
    if isinstance(points, bool) or not isinstance(points, int) or points < 1:
        raise ValidationError("a whole number of points, at least 1", field="points")
    minor = points * rate_amount * 10 ** get_currency_precision(currency) / rate_points
    units = int(minor.to_integral_value(rounding=ROUND_DOWN))
    if units < 1:
        raise ValidationError(
            f"{points} points are worth less than the smallest unit of {currency}", field="points"
        )
    return units
