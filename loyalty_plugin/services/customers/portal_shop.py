"""What a customer can buy with points in the portal: rewards and memberships.

The portal's pages read the catalogue through :func:`reward_catalogue` and
:func:`membership_offers`, confirm one item with :func:`reward_offer` or
:func:`membership_offer`, and buy it with :func:`buy_reward` or :func:`buy_membership`. A
purchase carries the form's one-time key as its idempotency key, so the same form posted
twice spends once. Nothing here knows of Flask.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.coupons import CouponStatus
from loyalty_plugin.domain.errors import NotFound
from loyalty_plugin.domain.levels import Level, LevelScheme, Source
from loyalty_plugin.models import Coupon, Customer, Membership, Reward
from loyalty_plugin.services.customers.statements import account_of, standing
from loyalty_plugin.services.levels import memberships as levels
from loyalty_plugin.services.spending import rewards

#: The most rewards the catalogue shows (newest first).
CATALOGUE_SIZE = 100


@dataclass(frozen=True, kw_only=True)
class RewardOffer:
    """A reward as one customer sees it: can they buy it now, and if not, why."""

    reward: Reward
    #: Times this customer bought it (cancelled coupons not counted).
    bought: int
    #: Times they may still buy it (``None``: no limit).
    left_for_you: int | None
    #: Points the customer has ready to use.
    available: int
    #: ``None`` when it can be bought; else ``sold_out``, ``limit`` or ``points``.
    blocked: str | None

    @property
    def balance_after(self) -> int:
        """What the customer has ready to use after buying it."""
        return self.available - self.reward.points

    @property
    def missing(self) -> int:
        """Points still needed to afford it (0 when affordable)."""
        return max(0, -self.balance_after)


@dataclass(frozen=True, kw_only=True)
class MembershipOffer:
    """A level the customer can buy with points, and what buying it now would do."""

    program: str
    level: Level
    price: int
    days: int
    available: int
    #: ``None`` when it can be bought; ``lower`` (they hold a higher level) or ``points``.
    blocked: str | None
    #: The bought level held now (same level: buying again extends it from this end).
    current_end: datetime | None

    @property
    def balance_after(self) -> int:
        return self.available - self.price

    def ends_if_bought_at(self, now: datetime) -> datetime:
        """When the membership would end if bought at ``now`` (a running one is extended)."""
        return (self.current_end or now) + timedelta(days=self.days)

    @property
    def missing(self) -> int:
        return max(0, -self.balance_after)


# -- rewards -------------------------------------------------------------------------------


def reward_catalogue(session: Session, customer: Customer, *, now: datetime) -> list[RewardOffer]:
    """The rewards on offer, each with what stops this customer buying it (if anything)."""
    offered = rewards.list_rewards(
        session, merchant_id=customer.merchant_id, limit=CATALOGUE_SIZE, active_only=True
    )
    offered = [r for r in offered if _on_offer(r, now)]
    bought = _bought(session, customer, [r.id for r in offered])
    available = standing(session, customer, now=now).available
    offers = [_offer(r, bought.get(r.id, 0), available) for r in offered]
    # What the customer can still get first, cheapest first; sold out or used up last.
    return sorted(offers, key=lambda o: (o.blocked in ("sold_out", "limit"), o.reward.points))


def reward_offer(
    session: Session, customer: Customer, reward_id: int, *, now: datetime
) -> RewardOffer:
    """One reward of the customer's merchant that is on offer (:class:`NotFound` otherwise)."""
    reward = rewards.get_reward(session, merchant_id=customer.merchant_id, reward_id=reward_id)
    if not reward.active or not _on_offer(reward, now):
        raise NotFound(f"reward {reward_id} does not exist", field="reward_id")
    bought = _bought(session, customer, [reward.id]).get(reward.id, 0)
    return _offer(reward, bought, standing(session, customer, now=now).available)


def buy_reward(
    session: Session, customer: Customer, *, reward_id: int, form_key: str, now: datetime
) -> Coupon:
    """Buy the reward for the customer; the same ``form_key`` buys it once."""
    return rewards.purchase_reward(
        session,
        merchant_id=customer.merchant_id,
        reward_id=reward_id,
        customer_id=customer.host_customer_id,
        now=now,
        actor=f"portal:{customer.host_customer_id}"[:128],
        idempotency_key=f"portal-reward:{customer.id}:{form_key}"[:255],
    )


def _on_offer(reward: Reward, now: datetime) -> bool:
    """Within the reward's active dates, where the reward has them.

    Read by name: the ``active_from``/``active_until`` columns arrive with the admin's
    reward dates (#17's sibling work); until then every active reward is on offer.
    """
    starts = getattr(reward, "active_from", None)
    ends = getattr(reward, "active_until", None)
    return (starts is None or starts <= now) and (ends is None or now < ends)


def _offer(reward: Reward, bought: int, available: int) -> RewardOffer:
    limit = reward.per_customer_limit
    left = None if limit is None else max(0, limit - bought)
    blocked = None
    if reward.stock is not None and reward.stock <= 0:
        blocked = "sold_out"
    elif left == 0:
        blocked = "limit"
    elif reward.points > available:
        blocked = "points"
    return RewardOffer(
        reward=reward, bought=bought, left_for_you=left, available=available, blocked=blocked
    )


def _bought(session: Session, customer: Customer, reward_ids: list[int]) -> dict[int, int]:
    """Times the customer bought each reward (one query)."""
    account = account_of(session, customer)
    if account is None or not reward_ids:
        return {}
    rows = session.execute(
        select(Coupon.reward_id, func.count(Coupon.id))
        .where(Coupon.account_id == account.id, Coupon.reward_id.in_(reward_ids))
        .where(Coupon.status != CouponStatus.CANCELLED)
        .group_by(Coupon.reward_id)
    )
    return {reward_id: count for reward_id, count in rows}


# -- memberships ---------------------------------------------------------------------------


def membership_offers(
    session: Session, customer: Customer, *, now: datetime
) -> list[MembershipOffer]:
    """The levels of the merchant's level program that can be bought with points."""
    programs = levels.level_programs(session, at=now, merchant_id=customer.merchant_id)
    if not programs:
        return []
    program = programs[0]
    account = account_of(session, customer)
    membership = (
        None
        if account is None
        else session.scalar(
            select(Membership).where(
                Membership.program_id == program.program_id, Membership.account_id == account.id
            )
        )
    )
    held = _held_rank(program.scheme, membership, now)
    available = standing(session, customer, now=now).available
    offers = []
    for level in program.scheme.levels:
        if level.price_points is None or level.duration_days is None:
            continue
        rank = program.scheme.rank(level.key)
        blocked = "lower" if rank < held else ("points" if level.price_points > available else None)
        bought_now = (
            membership is not None
            and membership.source is Source.BOUGHT
            and membership.level == level.key
            and membership.expires_at is not None
            and membership.expires_at > now
        )
        offers.append(
            MembershipOffer(
                program=program.key,
                level=level,
                price=level.price_points,
                days=level.duration_days,
                available=available,
                blocked=blocked,
                current_end=membership.expires_at if bought_now and membership else None,
            )
        )
    return offers


def membership_offer(
    session: Session, customer: Customer, level: str, *, now: datetime
) -> MembershipOffer:
    """One level for sale (:class:`NotFound` when it is not one)."""
    for offer in membership_offers(session, customer, now=now):
        if offer.level.key == level:
            return offer
    raise NotFound(f"level {level!r} is not for sale", field="level")


def buy_membership(
    session: Session, customer: Customer, *, level: str, form_key: str, now: datetime
) -> Membership:
    """Buy ``level`` for the customer; the same ``form_key`` buys it once."""
    offer = membership_offer(session, customer, level, now=now)
    account = account_of(session, customer)
    if account is None:
        raise NotFound("you have no points yet", field="level")
    return levels.buy_membership(
        session,
        merchant_id=customer.merchant_id,
        account_id=account.id,
        level=level,
        program_key=offer.program,
        now=now,
        actor=f"portal:{customer.host_customer_id}"[:128],
        idempotency_key=f"portal-membership:{customer.id}:{form_key}"[:255],
    )


def _held_rank(scheme: LevelScheme, membership: Membership | None, now: datetime) -> int:
    """Rank of the level the customer holds now (0: the first)."""
    if membership is None:
        return 0
    ended = membership.expires_at is not None and membership.expires_at <= now
    key = membership.earned_level if ended else membership.level
    return scheme.rank(key)
