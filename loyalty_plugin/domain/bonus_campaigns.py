"""Bonus campaigns, pure: time-boxed extra points on top of the programs (#18).

A bonus campaign ("3x for Gold members on Shoes this weekend") carries the same
:class:`~loyalty_plugin.domain.rules.conditions.Conditions` a rule does, a start and an end,
either a ``multiplier`` on the points its program gives on the lines it selects or fixed
extra ``points`` per invoice, an optional budget (in total and per customer) and a
priority. Not to be confused with coupon campaigns (:mod:`loyalty_plugin.domain.coupons`).

What a campaign wants is computed here in whole points; the service charges the budget and
turns what was granted into an :class:`~loyalty_plugin.domain.rules.Award` of kind
:data:`BONUS_CAMPAIGN`, which the level multiplier leaves alone (the bonus is computed on
points already multiplied) and which rounds to itself (it is whole).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from loyalty_plugin.domain.rules.conditions import (
    ConditionCheck,
    ConditionContext,
    Conditions,
    check_conditions,
)
from loyalty_plugin.domain.rules.kinds import BONUS_CAMPAIGN, Award
from loyalty_plugin.domain.rules.settings import CategoryTree, Rounding

ZERO = Decimal(0)
ONE = Decimal(1)

#: What a campaign's breakdown line says when its budget gave less than it wanted.
EXHAUSTED = "budget exhausted"
PARTIAL = "budget partly exhausted"


@dataclass(frozen=True, slots=True, kw_only=True)
class BonusCampaignDefinition:
    """A campaign as earning sees it (built from the stored row)."""

    id: int
    key: str
    name: str
    #: The program whose points it adds to; ``None``: the first program that earns.
    program: str | None
    conditions: Conditions
    starts_at: datetime
    ends_at: datetime
    #: Times the program's points on the selected lines (``3`` gives twice as many more).
    multiplier: Decimal | None = None
    #: Fixed extra points per invoice (when there is no ``multiplier``).
    points: int | None = None
    priority: int = 0

    def is_live(self, at: datetime) -> bool:
        """True from ``starts_at`` (included) to ``ends_at`` (excluded)."""
        return self.starts_at <= at < self.ends_at


@dataclass(frozen=True, slots=True)
class Wanted:
    """What a campaign would give on one invoice before its budget has its say."""

    campaign: BonusCampaignDefinition
    points: int
    check: ConditionCheck
    note: str


def wanted_points(
    campaign: BonusCampaignDefinition,
    *,
    awards: tuple[Award, ...],
    multiplier: Decimal,
    rounding: Rounding,
    ctx: ConditionContext,
    categories: CategoryTree,
) -> Wanted | None:
    """The whole points ``campaign`` wants on an invoice whose program gave ``awards``
    (times the level ``multiplier``); ``None`` when a condition does not hold.

    A multiplier campaign multiplies the program's points on the lines its ``what``
    selects (every award when it selects none), rounded as the program rounds; another
    campaign's bonus is never multiplied.
    """
    check = check_conditions(campaign.conditions, ctx)
    if not check.ok:
        return None
    if campaign.multiplier is None:
        points = campaign.points or 0
        return Wanted(campaign, points, check, f"+{points} points")
    what = campaign.conditions.what
    if what:
        chosen = {line.id for line in ctx.lines if what.selects(line, categories)}
        exacts = [a.exact for a in awards if a.kind != BONUS_CAMPAIGN and a.line in chosen]
    else:
        exacts = [a.exact for a in awards if a.kind != BONUS_CAMPAIGN]
    # Times Decimal(1) changes nothing, not even the exponent, so it is left out.
    plain = multiplier == ONE and multiplier.as_tuple().exponent == 0
    base = sum(exacts if plain else (x * multiplier for x in exacts), ZERO)
    extra = rounding.apply(base * (campaign.multiplier - ONE))
    return Wanted(campaign, max(0, extra), check, f"x{campaign.multiplier} on {_shown(base)}")


def grant(wanted: int, *, total_left: int | None, customer_left: int | None) -> int:
    """What a budget lets a campaign give: the points wanted, or the remainder of the
    tighter budget (``None``: no budget). Never below zero."""
    granted = wanted
    for left in (total_left, customer_left):
        if left is not None:
            granted = min(granted, max(0, left))
    return granted


def campaign_award(wanted: Wanted, granted: int) -> Award:
    """The award of ``granted`` points (whole, on the whole invoice)."""
    return Award(
        rule=wanted.campaign.key,
        kind=BONUS_CAMPAIGN,
        exact=Decimal(granted),
        note=f"{wanted.campaign.name}: {wanted.note}",
    )


def explanation(wanted: Wanted, granted: int) -> dict[str, Any]:
    """The campaign's line in an earning's ``bonus_campaigns`` breakdown."""
    shown: dict[str, Any] = {
        "campaign": wanted.campaign.key,
        "name": wanted.campaign.name,
        "wanted": wanted.points,
        "points": granted,
        "conditions": list(wanted.check.matched),
    }
    if granted < wanted.points:
        shown["budget"] = EXHAUSTED if granted == 0 else PARTIAL
    return shown


def campaign_conditions(settings: Mapping[str, Any] | None) -> Conditions:
    """A stored campaign's conditions (the program schema's ``conditions`` object)."""
    return Conditions.from_config(settings)


def _shown(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01"))) if value.as_tuple().exponent < -2 else str(value)  # type: ignore[operator]
