"""Coupon campaigns after they are made: the list with what became of their coupons,
changing a campaign's name and expiry, and ending it.

Making one is :func:`~loyalty_plugin.services.spending.coupons.create_campaign`. A campaign
is *running* while its expiry is ahead (or it has none) and *ended* once it has passed;
ending a campaign sets its expiry to now and cancels its unused coupons in one guarded
``UPDATE`` (a coupon being redeemed at that moment is either redeemed or cancelled, never
both). Its coupons cost no points, so nothing goes back to anyone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from loyalty_plugin.domain.coupons import CouponStatus
from loyalty_plugin.domain.errors import InvalidOperation, NotFound, ValidationError
from loyalty_plugin.models import Coupon, CouponCampaign
from loyalty_plugin.services.audit import Actor, as_actor, record_change

#: What :func:`update_campaign` changes.
EDITABLE = frozenset({"name", "expires_at"})


@dataclass(frozen=True, kw_only=True)
class CampaignSummary:
    """A campaign with what became of its coupons."""

    campaign: CouponCampaign
    #: Coupons by status: ``active``, ``redeemed``, ``expired``, ``cancelled``.
    counts: dict[str, int]

    def ended(self, now: datetime) -> bool:
        """Its expiry has passed: it was ended, or it ran out."""
        expires = self.campaign.expires_at
        return expires is not None and expires <= now


def list_campaigns(
    session: Session, *, merchant_id: str, limit: int, after_id: int | None = None
) -> list[CampaignSummary]:
    """The merchant's campaigns, newest first, each with its coupons counted by status.

    Two queries whatever the number of campaigns: the page, then one grouped count.
    """
    query = select(CouponCampaign).where(CouponCampaign.merchant_id == merchant_id)
    if after_id is not None:
        query = query.where(CouponCampaign.id < after_id)
    rows = session.scalars(query.order_by(CouponCampaign.id.desc()).limit(limit)).all()
    counts = _counts(session, [row.id for row in rows])
    return [CampaignSummary(campaign=row, counts=counts.get(row.id, _zero())) for row in rows]


def get_campaign(session: Session, *, merchant_id: str, campaign_id: int) -> CampaignSummary:
    """One campaign of the merchant with its counts, or :class:`NotFound`."""
    campaign = session.get(CouponCampaign, campaign_id)
    if campaign is None or campaign.merchant_id != merchant_id:
        raise NotFound(f"campaign {campaign_id} does not exist", field="campaign_id")
    counts = _counts(session, [campaign.id]).get(campaign.id, _zero())
    return CampaignSummary(campaign=campaign, counts=counts)


def update_campaign(
    session: Session,
    *,
    merchant_id: str,
    campaign_id: int,
    changes: dict[str, Any],
    now: datetime,
    actor: Actor | str,
) -> CampaignSummary:
    """Rename a running campaign or move its expiry (its unused coupons move with it).

    An ended campaign is refused: its coupons were cancelled or ran out. Audited as
    ``coupon_campaign.updated``.
    """
    unknown = set(changes) - EDITABLE
    if unknown:
        name = sorted(unknown)[0]
        raise ValidationError(f"{name!r} cannot be changed", field=name)
    summary = get_campaign(session, merchant_id=merchant_id, campaign_id=campaign_id)
    campaign = summary.campaign
    if summary.ended(now):
        raise InvalidOperation("the campaign has ended and cannot be changed", field="form")
    before = _document(campaign)
    if "name" in changes:
        name = (changes["name"] or "").strip()
        if not name:
            raise ValidationError("a name is required", field="name")
        campaign.name = name
    if "expires_at" in changes:
        expires = changes["expires_at"]
        if expires is not None and expires <= now:
            raise ValidationError("expiry must be in the future", field="expires_at")
        campaign.expires_at = expires
        session.execute(
            update(Coupon)
            .where(Coupon.campaign_id == campaign.id, Coupon.status == CouponStatus.ACTIVE)
            .values(expires_at=expires)
            .execution_options(synchronize_session=False)
        )
    session.flush()
    after = _document(campaign)
    if after != before:
        _record(session, campaign, actor, "coupon_campaign.updated", before, after, now)
    return get_campaign(session, merchant_id=merchant_id, campaign_id=campaign_id)


def end_campaign(
    session: Session, *, merchant_id: str, campaign_id: int, now: datetime, actor: Actor | str
) -> CampaignSummary:
    """End the campaign now: its unused coupons are cancelled, its expiry set to now.

    Ending an ended campaign is refused. Audited as ``coupon_campaign.ended`` with how
    many coupons were cancelled.
    """
    summary = get_campaign(session, merchant_id=merchant_id, campaign_id=campaign_id)
    campaign = summary.campaign
    if summary.ended(now):
        raise InvalidOperation("the campaign has already ended", field="form")
    before = _document(campaign)
    cancelled = session.execute(
        update(Coupon)
        .where(Coupon.campaign_id == campaign.id, Coupon.status == CouponStatus.ACTIVE)
        .values(status=CouponStatus.CANCELLED)
        .execution_options(synchronize_session=False)
    ).rowcount
    campaign.expires_at = now
    session.flush()
    after = _document(campaign) | {"coupons_cancelled": cancelled}
    _record(session, campaign, actor, "coupon_campaign.ended", before, after, now)
    return get_campaign(session, merchant_id=merchant_id, campaign_id=campaign_id)


# -- internals -------------------------------------------------------------------------


def _zero() -> dict[str, int]:
    return {status.value: 0 for status in CouponStatus}


def _counts(session: Session, ids: Sequence[int]) -> dict[int, dict[str, int]]:
    if not ids:
        return {}
    columns = [
        func.sum(case((Coupon.status == status, 1), else_=0)).label(status.value)
        for status in CouponStatus
    ]
    rows = session.execute(
        select(Coupon.campaign_id, *columns)
        .where(Coupon.campaign_id.in_(ids))
        .group_by(Coupon.campaign_id)
    ).all()
    return {
        row[0]: {status.value: int(row[i + 1] or 0) for i, status in enumerate(CouponStatus)}
        for row in rows
    }


def _document(campaign: CouponCampaign) -> dict[str, Any]:
    return {"name": campaign.name, "expires_at": campaign.expires_at}


def _record(
    session: Session,
    campaign: CouponCampaign,
    actor: Actor | str,
    action: str,
    before: dict[str, Any],
    after: dict[str, Any],
    now: datetime,
) -> None:
    record_change(
        session,
        merchant_id=campaign.merchant_id,
        actor=as_actor(actor),
        action=action,
        target_type="coupon_campaign",
        target_id=campaign.id,
        before=before,
        after=after,
        now=now,
    )
