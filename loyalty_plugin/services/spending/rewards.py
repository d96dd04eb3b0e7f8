"""The rewards catalogue: things customers buy with points, each purchase a coupon."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from loyalty_plugin.domain.coupons import CouponStatus, CouponValue
from loyalty_plugin.domain.errors import (
    IdempotencyConflict,
    InvalidOperation,
    NotFound,
    ValidationError,
)
from loyalty_plugin.domain.points import check_points
from loyalty_plugin.models import Account, Coupon, LedgerEntry, Reward
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.audit import SYSTEM, Actor, jsonable, record_change
from loyalty_plugin.services.idempotency import claim_fact
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.ledger.accounts import account_for_host_customer, get_merchant
from loyalty_plugin.services.spending.coupons import buy_coupon

#: Reward fields a merchant may change after creating it.
EDITABLE = frozenset(
    {
        "name",
        "description",
        "points",
        "stock",
        "per_customer_limit",
        "coupon_valid_days",
        "active",
        "active_from",
        "active_until",
    }
)


def create_reward(
    session: Session,
    *,
    merchant_id: str,
    name: str,
    points: int,
    value: CouponValue,
    now: datetime,
    description: str | None = None,
    stock: int | None = None,
    per_customer_limit: int | None = None,
    coupon_valid_days: int | None = None,
    active_from: datetime | None = None,
    active_until: datetime | None = None,
    actor: Actor | str = SYSTEM,
    request_key: str | None = None,
) -> Reward:
    """Add a reward to the merchant's catalogue (audited as ``reward.created``).

    ``request_key`` (an admin form's one-time key) makes a repeat return the reward the
    first request made instead of adding a second one.
    """
    get_merchant(session, merchant_id)
    if request_key is not None:
        key = f"reward-form:{request_key}"[:255]
        if claim_fact(session, merchant_id=merchant_id, key=key, event_id=None) is not None:
            made = session.scalars(
                select(Reward)
                .where(Reward.merchant_id == merchant_id, Reward.name == name)
                .order_by(Reward.id.desc())
                .limit(1)
            ).first()
            if made is not None:
                return made
    reward = Reward(merchant_id=merchant_id, active=True, created_at=now, updated_at=now)
    reward.set_value(value)
    _apply(
        reward,
        {
            "name": name,
            "description": description,
            "points": points,
            "stock": stock,
            "per_customer_limit": per_customer_limit,
            "coupon_valid_days": coupon_valid_days,
            "active_from": active_from,
            "active_until": active_until,
        },
    )
    session.add(reward)
    session.flush()
    _record(session, reward, actor, "reward.created", None, now=now)
    return reward


def update_reward(
    session: Session,
    *,
    merchant_id: str,
    reward_id: int,
    changes: dict[str, Any],
    now: datetime,
    actor: Actor | str = SYSTEM,
) -> Reward:
    """Change a reward's name, price, stock, limits, active dates or whether it is on offer."""
    unknown = set(changes) - EDITABLE
    if unknown:
        name = sorted(unknown)[0]
        raise ValidationError(f"{name!r} cannot be changed", field=name)
    reward = get_reward(session, merchant_id=merchant_id, reward_id=reward_id)
    before = jsonable(reward_document(reward))
    _apply(reward, changes)
    reward.updated_at = now
    session.flush()
    _record(session, reward, actor, "reward.updated", before, now=now)
    return reward


def reward_document(reward: Reward) -> dict[str, Any]:
    """What the audit trail keeps of a reward."""
    return {key: getattr(reward, key) for key in sorted(EDITABLE)} | {"value": asdict(reward.value)}


def _record(
    session: Session,
    reward: Reward,
    actor: Actor | str,
    action: str,
    before: dict[str, Any] | None,
    *,
    now: datetime,
) -> None:
    """Audit a change of ``reward``; an update that changed nothing is not one."""
    after = jsonable(reward_document(reward))
    if before == after:
        return
    record_change(
        session,
        merchant_id=reward.merchant_id,
        actor=actor,
        action=action,
        target_type="reward",
        target_id=reward.id,
        before=before,
        after=after,
        now=now,
    )


def get_reward(session: Session, *, merchant_id: str, reward_id: int) -> Reward:
    """The merchant's reward, or :class:`NotFound`."""
    reward = session.get(Reward, reward_id)
    if reward is None or reward.merchant_id != merchant_id:
        raise NotFound(f"reward {reward_id} does not exist", field="reward_id")
    return reward


def list_rewards(
    session: Session,
    *,
    merchant_id: str,
    limit: int,
    after_id: int | None = None,
    active_only: bool = False,
    now: datetime | None = None,
) -> Sequence[Reward]:
    """The catalogue, newest first, ``limit`` rewards after the cursor ``after_id``.

    ``active_only``: only the rewards customers may buy at ``now`` (default: this moment),
    offered and within their active dates.
    """
    query = select(Reward).where(Reward.merchant_id == merchant_id)
    if active_only:
        at = now or utcnow()
        query = query.where(
            Reward.active.is_(True),
            or_(Reward.active_from.is_(None), Reward.active_from <= at),
            or_(Reward.active_until.is_(None), Reward.active_until > at),
        )
    if after_id is not None:
        query = query.where(Reward.id < after_id)
    return session.scalars(query.order_by(Reward.id.desc()).limit(limit)).all()


def purchasable_rewards(
    session: Session,
    *,
    merchant_id: str,
    now: datetime,
    limit: int = 100,
    after_id: int | None = None,
) -> Sequence[Reward]:
    """What customers may buy at ``now``: offered, within the active dates; newest first.

    The catalogue of the API (``GET /rewards?active=true``) and of the portal.
    """
    return list_rewards(
        session,
        merchant_id=merchant_id,
        limit=limit,
        after_id=after_id,
        active_only=True,
        now=now,
    )


def purchase_reward(
    session: Session,
    *,
    merchant_id: str,
    reward_id: int,
    customer_id: str,
    now: datetime,
    actor: str,
    idempotency_key: str | None = None,
) -> Coupon:
    """Buy the reward with points; answers the coupon that delivers it.

    The account lock makes one customer's purchases take turns (so the per-customer limit
    holds); the guarded stock update makes the last item go to one buyer only. With
    ``idempotency_key``, a repeat (even a simultaneous one) answers the coupon the first
    call bought, and spends no points and no stock.
    """
    account = account_for_host_customer(session, merchant_id, customer_id)
    account = ledger.lock_account(session, account.id)
    reward = get_reward(session, merchant_id=merchant_id, reward_id=reward_id)
    if idempotency_key is not None and (
        bought := _bought_with_key(session, account, reward, idempotency_key)
    ):
        return bought
    if not reward.active:
        raise InvalidOperation(
            "this reward is not on offer", field="reward_id", reason="reward_not_on_offer"
        )
    if not reward.on_offer(now):
        raise InvalidOperation(
            _outside_dates(reward, now), field="reward_id", reason="reward_not_on_offer"
        )
    if reward.per_customer_limit is not None:
        bought = session.scalar(
            select(func.count(Coupon.id)).where(
                Coupon.reward_id == reward.id,
                Coupon.account_id == account.id,
                Coupon.status != CouponStatus.CANCELLED,
            )
        )
        if (bought or 0) >= reward.per_customer_limit:
            times = "once" if reward.per_customer_limit == 1 else "{} times"
            raise InvalidOperation(
                f"this reward can be bought {times.format(reward.per_customer_limit)} per customer",
                field="reward_id",
                reason="reward_limit_reached",
                facts={"limit": reward.per_customer_limit},
            )
    _take_from_stock(session, reward)
    return buy_coupon(
        session,
        account=account,
        points=reward.points,
        value=reward.value,
        expires_at=(
            None
            if reward.coupon_valid_days is None
            else now + timedelta(days=reward.coupon_valid_days)
        ),
        now=now,
        actor=actor,
        reward_id=reward.id,
        idempotency_key=idempotency_key,
    )


def _bought_with_key(session: Session, account: Account, reward: Reward, key: str) -> Coupon | None:
    """The coupon an earlier purchase with ``key`` bought (looked up under the account lock)."""
    coupon = session.scalars(
        select(Coupon)
        .join(LedgerEntry, LedgerEntry.id == Coupon.entry_id)
        .where(LedgerEntry.merchant_id == account.merchant_id, LedgerEntry.idempotency_key == key)
    ).one_or_none()
    if coupon is not None and (coupon.account_id != account.id or coupon.reward_id != reward.id):
        raise IdempotencyConflict(key)
    return coupon


def _outside_dates(reward: Reward, now: datetime) -> str:
    """Why a reward is not on offer at ``now`` although it is offered: its dates."""
    if reward.active_from is not None and now < reward.active_from:
        return f"this reward is on offer from {_moment(reward.active_from)}"
    return f"this reward was on offer until {_moment(reward.active_until)}"


def _moment(when: datetime | None) -> str:
    return "" if when is None else when.strftime("%Y-%m-%d %H:%M UTC")


def _take_from_stock(session: Session, reward: Reward) -> None:
    if reward.stock is None:
        return
    taken = session.execute(
        update(Reward)
        .where(Reward.id == reward.id, Reward.stock > 0)
        .values(stock=Reward.stock - 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.refresh(reward)
    if taken != 1:
        raise InvalidOperation(
            "this reward is out of stock", field="reward_id", reason="reward_sold_out"
        )


def _apply(reward: Reward, changes: dict[str, Any]) -> None:
    """Set checked values on ``reward``."""
    for key, value in changes.items():
        if key == "name" and (not isinstance(value, str) or not value.strip()):
            raise ValidationError("a name is required", field="name")
        if key == "points":
            check_points(value)
        if key in {"stock"} and value is not None and value < 0:
            raise ValidationError("stock cannot be negative", field=key)
        if key in {"per_customer_limit", "coupon_valid_days"} and value is not None and value < 1:
            raise ValidationError("must be at least 1 (or null for no limit)", field=key)
        setattr(reward, key, value.strip() if isinstance(value, str) else value)
    if "active_from" in changes or "active_until" in changes:
        starts, ends = reward.active_from, reward.active_until
        if starts is not None and ends is not None and ends <= starts:
            raise ValidationError("the end must be after the start", field="active_until")
