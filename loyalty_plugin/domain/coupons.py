"""Coupons: unguessable codes, what a coupon is worth, and turning points into one.

Codes come from :mod:`secrets`, one character at a time, from an alphabet without the
characters people confuse (0/O, 1/I/L). Each code is drawn independently, so no code tells
anything about another.
"""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from loyalty_plugin.domain.errors import ValidationError
from loyalty_plugin.domain.points import check_points
from loyalty_plugin.domain.redemption import round_down

#: 31 characters: digits and capitals without 0, 1, O, I and L.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
#: Random characters in a code: 31**12 is about 2**59.
CODE_LENGTH = 12
#: Codes are shown in groups of this many characters, joined by hyphens.
GROUP = 4


class CouponKind(enum.StrEnum):
    """What a coupon gives."""

    #: A fixed amount off, in a currency.
    AMOUNT = "amount"
    #: A percentage off.
    PERCENT = "percent"
    #: A product for free (named by the reward or campaign).
    PRODUCT = "product"


class CouponStatus(enum.StrEnum):
    """Where a coupon is in its life."""

    ACTIVE = "active"
    REDEEMED = "redeemed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


def generate_code(prefix: str = "") -> str:
    """A new random code such as ``K7QX-M2PD-9HTA``, optionally after ``prefix-``."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    code = "-".join(raw[i : i + GROUP] for i in range(0, CODE_LENGTH, GROUP))
    return f"{normalize_prefix(prefix)}-{code}" if prefix else code


def normalize_prefix(prefix: str) -> str:
    """A campaign prefix: 1-12 letters or digits, upper case."""
    clean = prefix.strip().upper()
    if not clean.isascii() or not clean.isalnum() or len(clean) > 12:
        raise ValidationError("a prefix is 1-12 letters or digits", field="prefix")
    return clean


def normalize_code(code: str) -> str:
    """The stored form of a code a person typed: case, spaces and dashes do not matter.

    Every code is ``[PREFIX-]XXXX-XXXX-XXXX``, so the last twelve letters or digits are the
    random part and anything before them the prefix: ``jqjw akjq scwq`` and
    ``JQJWAKJQSCWQ`` both read as ``JQJW-AKJQ-SCWQ``. Anything shorter is kept as typed
    (upper case, without spaces and dashes); it matches no code.
    """
    clean = "".join(ch for ch in str(code) if ch.isalnum()).upper()
    if len(clean) < CODE_LENGTH:
        return clean
    prefix, raw = clean[:-CODE_LENGTH], clean[-CODE_LENGTH:]
    grouped = "-".join(raw[i : i + GROUP] for i in range(0, CODE_LENGTH, GROUP))
    return f"{prefix}-{grouped}" if prefix else grouped


def unusable_reason(
    status: CouponStatus, *, expires_at: datetime | None, now: datetime
) -> str | None:
    """Why a coupon cannot be used at ``now``, or ``None`` if it can."""
    if status != CouponStatus.ACTIVE:
        return f"the coupon is {status}"
    if expires_at is not None and expires_at <= now:
        return "the coupon has expired"
    return None


@dataclass(frozen=True, kw_only=True)
class CouponValue:
    """What a coupon gives, and on what."""

    kind: CouponKind
    amount: Decimal | None = None
    currency: str | None = None
    percent: Decimal | None = None
    product_ids: tuple[str, ...] = ()
    category_ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind == CouponKind.AMOUNT and not (self.amount and self.amount > 0):
            raise ValidationError("an amount coupon needs an amount above 0", field="amount")
        if self.kind == CouponKind.AMOUNT and not self.currency:
            raise ValidationError("an amount coupon needs a currency", field="currency")
        if self.kind == CouponKind.PERCENT and not (self.percent and 0 < self.percent <= 100):
            raise ValidationError("a percent coupon needs 0 < percent <= 100", field="percent")
        if self.kind == CouponKind.PRODUCT and not self.product_ids:
            raise ValidationError("a product coupon names its products", field="product_ids")


@dataclass(frozen=True, kw_only=True)
class Package:
    """A fixed conversion: ``points`` points buy a coupon worth ``amount``."""

    points: int
    amount: Decimal


@dataclass(frozen=True, kw_only=True)
class CouponRules:
    """A merchant's settings for turning points into coupons, with their defaults."""

    #: Rate conversion: ``rate_points`` points buy ``rate_amount`` (used without packages).
    rate_points: int = 100
    rate_amount: Decimal = Decimal("1.00")
    #: Fixed packages; when any are set, only they can be bought.
    packages: tuple[Package, ...] = ()
    min_points: int = 0
    #: Coupons expire this many days after issue, or on ``valid_until`` (whichever is set).
    valid_days: int | None = 90
    valid_until: date | None = None
    product_ids: tuple[str, ...] = ()
    category_ids: tuple[str, ...] = ()
    #: Give the points back when a coupon bought with them expires unused.
    refund_on_expiry: bool = False
    packages_by_points: dict[int, Package] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "packages_by_points", {p.points: p for p in self.packages})


def coupon_amount(points: int, rules: CouponRules, *, currency: str) -> Decimal:
    """What ``points`` buy under ``rules``, or a :class:`ValidationError` naming ``points``."""
    check_points(points)
    if points < rules.min_points:
        raise ValidationError(f"at least {rules.min_points} points are needed", field="points")
    if rules.packages:
        package = rules.packages_by_points.get(points)
        if package is None:
            offered = ", ".join(str(p) for p in sorted(rules.packages_by_points))
            raise ValidationError(f"choose one of the packages: {offered} points", field="points")
        return package.amount
    amount = round_down(points * rules.rate_amount / rules.rate_points, currency)
    if amount <= 0:
        raise ValidationError("too few points to make a coupon worth anything", field="points")
    return amount


def coupon_expiry(rules: CouponRules, *, now: datetime) -> datetime | None:
    """When a coupon issued ``now`` expires: end of ``valid_until``, or after ``valid_days``."""
    if rules.valid_until is not None:
        return datetime.combine(rules.valid_until + timedelta(days=1), time(), tzinfo=now.tzinfo)
    if rules.valid_days is not None:
        return now + timedelta(days=rules.valid_days)
    return None
