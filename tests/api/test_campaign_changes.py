"""Coupon campaigns after they are made: listed with their coupons counted, renamed, their
expiry moved (their unused coupons with it), ended (unused coupons cancelled); audited."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from loyalty_plugin.models import AuditEntry, Coupon
from loyalty_plugin.models.base import utcnow

SUMMER = {"name": "Summer", "count": 3, "kind": "percent", "percent": "10", "prefix": "SUN"}


def iso(days: int) -> str:
    return (utcnow() + timedelta(days=days)).replace(microsecond=0).isoformat()


def test_a_campaign_is_listed_changed_and_ended(api, db) -> None:
    made = api.post("/coupon-campaigns", SUMMER | {"expires_at": iso(30)}, scope="admin").json
    first = made["codes"][0]
    assert api.post(f"/coupons/{first}/redeem", {}, key=None).status_code == 200
    listed = api.get("/coupon-campaigns", scope="admin").json["data"]
    assert [(c["name"], c["count"], c["ended"]) for c in listed] == [("Summer", 3, False)]
    assert listed[0]["coupons"] == {"active": 2, "redeemed": 1, "expired": 0, "cancelled": 0}
    assert listed[0]["kind"] == "percent" and Decimal(listed[0]["percent"]) == 10
    path = f"/coupon-campaigns/{made['id']}"
    moved = api.patch(path, {"name": "Summer sale", "expires_at": iso(60)})
    assert moved.status_code == 200 and moved.json["name"] == "Summer sale"
    expiries = set(db.scalars(select(Coupon.expires_at).where(Coupon.status == "active")).all())
    assert len(expiries) == 1 and expiries.pop().isoformat()[:10] == iso(60)[:10]
    past = api.patch(path, {"expires_at": iso(-1)})
    assert past.status_code == 422 and "expires_at" in past.json["error"]["fields"]

    ended = api.post(f"{path}/end", None, scope="admin")
    assert ended.status_code == 200, ended.json
    assert ended.json["ended"] is True
    assert ended.json["coupons"] == {"active": 0, "redeemed": 1, "expired": 0, "cancelled": 2}
    assert api.get(f"/coupons/{made['codes'][1]}").json["unusable_reason"] == (
        "the coupon is cancelled"
    )
    again = api.post(f"{path}/end", None, scope="admin")
    assert again.status_code == 409 and "already ended" in again.json["error"]["message"]
    assert api.patch(path, {"name": "Later"}).status_code == 409
    actions = db.scalars(
        select(AuditEntry.action).where(AuditEntry.target_type == "coupon_campaign")
    ).all()
    assert sorted(actions) == [
        "coupon_campaign.created",
        "coupon_campaign.ended",
        "coupon_campaign.updated",
    ]


def test_campaigns_need_the_admin_scope_and_stay_with_their_merchant(api, keys) -> None:
    made = api.post("/coupon-campaigns", SUMMER, scope="admin").json
    assert api.get("/coupon-campaigns", scope="write").status_code == 403
    assert api.post(f"/coupon-campaigns/{made['id']}/end", None, scope="write").status_code == 403
    other = api.client.get(
        f"/loyalty/api/v1/coupon-campaigns/{made['id']}",
        headers={"Authorization": f"Bearer {keys['other']}"},
    )
    assert other.status_code == 404
