"""Membership levels, pure: a program's level scheme, which level an amount reaches,
when a customer moves down, and what is still needed for the next level.

A scheme lives in a program version's settings (``levels``), so changing thresholds or
benefits is a new program version. Nothing here touches a database.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from loyalty_plugin.domain.errors import ValidationError
from loyalty_plugin.domain.redemption import PointValue
from loyalty_plugin.domain.rules.kinds import decimal

ZERO = Decimal(0)
ONE = Decimal(1)
HUNDRED = Decimal(100)
E = TypeVar("E", bound=enum.StrEnum)


class Measure(enum.StrEnum):
    """What counts toward a level."""

    #: Points earned (refunds and cancellations take theirs back; spending never counts).
    POINTS = "points"
    #: Money paid on invoices, less refunds; cancelled invoices do not count.
    MONEY = "money"


class Period(enum.StrEnum):
    """Which earnings or purchases count."""

    #: Everything ever (default).
    LIFETIME = "lifetime"
    #: The last ``days`` days (365: a rolling 12 months).
    ROLLING = "rolling"
    #: The current calendar year (UTC).
    CALENDAR_YEAR = "calendar_year"


class Downgrade(enum.StrEnum):
    """When a customer whose qualifying amount fell below their level moves down."""

    #: Never: a level once reached is kept.
    NEVER = "never"
    #: At once, when the amount falls below the level's threshold (default).
    BELOW_THRESHOLD = "below_threshold"
    #: At the level's review date (plus the grace period), if still below.
    REVIEW = "review"


class RedeemAt(enum.StrEnum):
    """Which level's point value a customer's points redeem at."""

    #: The level the customer holds when they redeem (default).
    CURRENT_LEVEL = "current_level"
    #: The level the customer held when each point was earned (fallback redemption).
    EARNING_LEVEL = "earning_level"


class Source(enum.StrEnum):
    """How a customer holds their current level."""

    #: Reached by the qualifying amount.
    EARNED = "earned"
    #: Bought with points, until ``expires_at``.
    BOUGHT = "bought"
    #: Given by staff, until ``expires_at``.
    GIVEN = "given"


@dataclass(frozen=True, kw_only=True)
class Discount:
    """A level's discount on some categories or products (none named: everything)."""

    percent: Decimal
    categories: frozenset[str] = frozenset()
    products: frozenset[str] = frozenset()

    def applies(self, product: str | None, category: str | None) -> bool:
        """True for a line of ``product`` in ``category``."""
        if not self.categories and not self.products:
            return True
        return product in self.products or category in self.categories

    def to_json(self) -> dict[str, Any]:
        return {
            "percent": str(self.percent),
            "categories": sorted(self.categories),
            "products": sorted(self.products),
        }


@dataclass(frozen=True, kw_only=True)
class Level:
    """One level: its threshold and its benefits."""

    key: str
    name: str
    threshold: Decimal
    #: Earning multiplier (1: none).
    multiplier: Decimal = ONE
    #: The level's own point value for redemption (``None``: the merchant's).
    point_value: PointValue | None = None
    #: The level's own maximum share of an invoice payable with points, in percent.
    max_share_percent: Decimal | None = None
    discounts: tuple[Discount, ...] = ()
    #: Price in points to buy the level (``None``: it cannot be bought).
    price_points: int | None = None
    #: Days a bought level lasts.
    duration_days: int | None = None

    def benefits(self) -> dict[str, Any]:
        """The benefits as the API shows them."""
        value = self.point_value
        return {
            "multiplier": str(self.multiplier),
            "point_value": None
            if value is None
            else {"points": value.points, "amount": str(value.amount)},
            "max_share_percent": None
            if self.max_share_percent is None
            else str(self.max_share_percent),
            "discounts": [d.to_json() for d in self.discounts],
        }


@dataclass(frozen=True, kw_only=True)
class LevelScheme:
    """A program's levels, lowest first, and the rules that move customers between them."""

    levels: tuple[Level, ...]
    measure: Measure = Measure.MONEY
    period: Period = Period.LIFETIME
    #: Length of a rolling window.
    days: int = 365
    downgrade: Downgrade = Downgrade.BELOW_THRESHOLD
    #: Review every this many days from the level's start; ``None``: each 1 January.
    review_every_days: int | None = None
    #: Days after the review date a customer still below keeps the level.
    grace_days: int = 0
    redeem_at: RedeemAt = RedeemAt.CURRENT_LEVEL
    #: The merchant's time zone: where a calendar year starts and ends.
    timezone: str = "UTC"

    def level(self, key: str | None) -> Level | None:
        """The level named ``key``, or ``None`` (unknown in this version)."""
        return next((lv for lv in self.levels if lv.key == key), None)

    def value_of(self, key: str | None, base: PointValue) -> tuple[str, PointValue]:
        """The point value of points earned at level ``key`` and the level that sets it.

        Points earned at no level, or at a level this version no longer has, count as
        earned at the lowest level; a level without its own value has ``base``.
        """
        level = self.level(key) or self.levels[0]
        return level.key, level.point_value or base

    def rank(self, key: str | None) -> int:
        """Position of ``key`` (-1 when unknown)."""
        return next((i for i, lv in enumerate(self.levels) if lv.key == key), -1)

    def window_start(self, at: datetime) -> datetime | None:
        """The earliest earning that counts at ``at`` (``None``: all)."""
        if self.period is Period.ROLLING:
            return at - timedelta(days=self.days)
        if self.period is Period.CALENDAR_YEAR:
            return self.new_year(at.astimezone(ZoneInfo(self.timezone)).year)
        return None

    def new_year(self, year: int) -> datetime:
        """1 January of ``year`` at midnight in the merchant's time zone, in UTC."""
        return datetime(year, 1, 1, tzinfo=ZoneInfo(self.timezone)).astimezone(UTC)


def level_for(scheme: LevelScheme, amount: Decimal) -> Level:
    """The highest level whose threshold ``amount`` reaches."""
    reached = scheme.levels[0]
    for level in scheme.levels:
        if amount >= level.threshold:
            reached = level
    return reached


def review_date(scheme: LevelScheme, since: datetime) -> datetime | None:
    """When a level held from ``since`` is reviewed (only under the review policy)."""
    if scheme.downgrade is not Downgrade.REVIEW:
        return None
    if scheme.review_every_days is not None:
        return since + timedelta(days=scheme.review_every_days)
    return scheme.new_year(since.astimezone(ZoneInfo(scheme.timezone)).year + 1)


@dataclass(frozen=True, kw_only=True)
class Decision:
    """Where a customer should be now, and why."""

    level: Level
    reason: str

    def moves(self, current: str | None) -> bool:
        return self.level.key != current


def decide(
    scheme: LevelScheme,
    *,
    current: str | None,
    amount: Decimal,
    at: datetime,
    review_at: datetime | None = None,
) -> Decision:
    """The earned level at ``at``: up at once, down only as the downgrade policy says."""
    reached = level_for(scheme, amount)
    held = scheme.level(current)
    if held is None:
        return Decision(level=reached, reason="qualified" if current is None else "new version")
    if scheme.rank(reached.key) > scheme.rank(held.key):
        return Decision(level=reached, reason="upgrade")
    if scheme.rank(reached.key) == scheme.rank(held.key):
        return Decision(level=held, reason="unchanged")
    if scheme.downgrade is Downgrade.BELOW_THRESHOLD:
        return Decision(level=reached, reason="below threshold")
    due = review_at is not None and at >= review_at + timedelta(days=scheme.grace_days)
    if scheme.downgrade is Downgrade.REVIEW and due:
        return Decision(level=reached, reason="review")
    return Decision(level=held, reason="unchanged")


def discount_amount(
    level: Level, items: Sequence[tuple[Decimal, str | None, str | None]]
) -> Decimal:
    """The level's discount on lines given as ``(total, product_id, category_id)``.

    Each line gets the best of the discounts that name its product or category (a discount
    naming neither applies to every line). Not rounded: the host applies it.
    """
    total = ZERO
    for amount, product, category in items:
        best = max(
            (d.percent for d in level.discounts if d.applies(product, category)), default=ZERO
        )
        total += amount * best / HUNDRED
    return total


@dataclass(frozen=True, kw_only=True)
class Projection:
    """The next level and what is still needed to reach it."""

    next_level: Level | None
    needed: Decimal | None


def project(scheme: LevelScheme, *, current: str | None, amount: Decimal) -> Projection:
    """The first level above ``current`` and the amount missing to reach it."""
    rank = scheme.rank(current)
    above = scheme.levels[rank + 1 :] if rank + 1 < len(scheme.levels) else ()
    if not above:
        return Projection(next_level=None, needed=None)
    target = above[0]
    return Projection(next_level=target, needed=max(ZERO, target.threshold - amount))


# -- settings -------------------------------------------------------------------------------


#: The fields :func:`scheme_from_settings` reads: of ``levels``, of each tier, of a
#: tier's ``point_value`` and of each of its ``discounts`` (any other is refused).
SCHEME_FIELDS = frozenset(
    {"tiers", "measure", "period", "days", "downgrade", "review_every_days", "grace_days"}
    | {"redeem_at"}
)
TIER_FIELDS = frozenset(
    {"key", "name", "threshold", "multiplier", "point_value", "max_share_percent"}
    | {"discounts", "price_points", "duration_days"}
)
POINT_VALUE_FIELDS = frozenset({"points", "amount"})
DISCOUNT_FIELDS = frozenset({"percent", "categories", "products"})


def scheme_from_settings(config: Mapping[str, Any] | None) -> LevelScheme | None:
    """A version's ``levels`` settings as a :class:`LevelScheme` (``{}``: no levels).

    Raises :class:`ValidationError` naming the field at fault.
    """
    if not config:
        return None
    raw = config.get("tiers")
    if not isinstance(raw, Sequence) or isinstance(raw, str) or not raw:
        raise ValidationError("give at least one level", field="levels.tiers")
    levels = tuple(_level(item, i) for i, item in enumerate(raw))
    _check_order(levels)
    scheme = LevelScheme(
        levels=tuple(sorted(levels, key=lambda lv: lv.threshold)),
        measure=_choice(Measure, config.get("measure", Measure.MONEY), "measure"),
        period=_choice(Period, config.get("period", Period.LIFETIME), "period"),
        days=_int(config.get("days", 365), "levels.days", low=1),
        downgrade=_choice(
            Downgrade, config.get("downgrade", Downgrade.BELOW_THRESHOLD), "downgrade"
        ),
        review_every_days=None
        if config.get("review_every_days") is None
        else _int(config["review_every_days"], "levels.review_every_days", low=1),
        grace_days=_int(config.get("grace_days", 0), "levels.grace_days", low=0),
        redeem_at=_choice(RedeemAt, config.get("redeem_at", RedeemAt.CURRENT_LEVEL), "redeem_at"),
    )
    return scheme


def _check_order(levels: Sequence[Level]) -> None:
    keys = [lv.key for lv in levels]
    if len(set(keys)) != len(keys):
        raise ValidationError("two levels have the same key", field="levels.tiers")
    thresholds = [lv.threshold for lv in levels]
    if len(set(thresholds)) != len(thresholds):
        raise ValidationError("two levels have the same threshold", field="levels.tiers")
    if min(thresholds) != 0:
        raise ValidationError("the lowest level's threshold must be 0", field="levels.tiers")


def _level(item: Any, index: int) -> Level:
    where = f"levels.tiers.{index}"
    if not isinstance(item, Mapping) or not item.get("key"):
        raise ValidationError("a level is an object with a key", field=where)
    try:
        threshold = decimal(item.get("threshold", "0"))
        multiplier = decimal(item.get("multiplier", "1"))
        share = item.get("max_share_percent")
        value = item.get("point_value")
        level = Level(
            key=str(item["key"]),
            name=str(item.get("name") or item["key"]),
            threshold=threshold,
            multiplier=multiplier,
            point_value=None
            if value is None
            else PointValue(points=int(value["points"]), amount=decimal(value["amount"])),
            max_share_percent=None if share is None else decimal(share),
            discounts=tuple(_discount(d) for d in item.get("discounts") or ()),
            price_points=item.get("price_points"),
            duration_days=item.get("duration_days"),
        )
    except ValidationError as error:
        raise ValidationError(error.message, field=f"{where}.{error.field or ''}") from None
    except (KeyError, TypeError, ArithmeticError) as error:
        raise ValidationError(f"invalid level: {error!r}", field=where) from None
    _check_level(level, where)
    return level


def _check_level(level: Level, where: str) -> None:
    if level.threshold < 0 or level.multiplier <= 0:
        raise ValidationError("threshold >= 0 and multiplier > 0", field=where)
    if level.max_share_percent is not None and not 0 <= level.max_share_percent <= HUNDRED:
        raise ValidationError("max_share_percent is 0-100", field=f"{where}.max_share_percent")
    if any(not 0 < d.percent <= HUNDRED for d in level.discounts):
        raise ValidationError("a discount percent is above 0, at most 100", field=where)
    if (level.price_points is None) != (level.duration_days is None):
        raise ValidationError("price_points and duration_days go together", field=where)
    for value in (level.price_points, level.duration_days):
        if value is not None and (not isinstance(value, int) or value < 1):
            raise ValidationError("price_points and duration_days are >= 1", field=where)


def _discount(item: Mapping[str, Any]) -> Discount:
    return Discount(
        percent=decimal(item["percent"]),
        categories=frozenset(item.get("categories") or ()),
        products=frozenset(item.get("products") or ()),
    )


def _choice(kind: type[E], value: Any, name: str) -> E:
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(m.value for m in kind)
        raise ValidationError(f"use one of {choices}", field=f"levels.{name}") from None


def _int(value: Any, field: str, *, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValidationError(f"a whole number >= {low}", field=field)
    return value
