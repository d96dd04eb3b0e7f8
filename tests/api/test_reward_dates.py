"""Rewards with active dates: the catalogue offers them only between their dates, buying
outside them is refused with 409 and the reason, and the dates are edited like the rest."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from loyalty_plugin.models import AuditEntry, Reward
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.spending import rewards

COFFEE = {"name": "Free coffee", "points": 300, "kind": "product", "product_ids": ["coffee"]}


def iso(days: int) -> str:
    return (utcnow() + timedelta(days=days)).replace(microsecond=0).isoformat()


def test_only_rewards_within_their_dates_are_offered_and_sold(api, customer, db) -> None:
    """Not yet, running, ended: the catalogue lists the running one; the others answer 409."""
    customer("42", 5000)
    soon = api.post("/rewards", COFFEE | {"name": "Soon", "active_from": iso(3)}, scope="admin")
    assert soon.status_code == 201, soon.json
    now_on = api.post(
        "/rewards",
        COFFEE | {"name": "Now", "active_from": iso(-1), "active_until": iso(5)},
        scope="admin",
    ).json
    ended = api.post("/rewards", COFFEE | {"name": "Ended", "active_until": iso(-1)}, scope="admin")
    assert soon.json["active_from"] and ended.json["active_until"]
    offered = api.get("/rewards", active="true").json["data"]
    assert [r["name"] for r in offered] == ["Now"]
    assert len(api.get("/rewards").json["data"]) == 3  # the whole catalogue, for staff
    early = api.post(f"/rewards/{soon.json['id']}/purchase", {"customer_id": "42"})
    assert early.status_code == 409
    assert early.json["error"]["fields"]["reward_id"][0].startswith("this reward is on offer from ")
    late = api.post(f"/rewards/{ended.json['id']}/purchase", {"customer_id": "42"})
    assert late.status_code == 409 and "was on offer until" in late.json["error"]["message"]
    assert api.post(f"/rewards/{now_on['id']}/purchase", {"customer_id": "42"}).status_code == 201
    listed = rewards.purchasable_rewards(db, merchant_id="shop", now=utcnow() + timedelta(days=4))
    assert sorted(r.name for r in listed) == ["Now", "Soon"]


def test_dates_are_edited_and_checked(api, db) -> None:
    """PATCH moves the dates (audited); an end before the start is 422 at active_until."""
    made = api.post("/rewards", COFFEE, scope="admin").json
    assert (made["active_from"], made["active_until"]) == (None, None)
    moved = api.patch(f"/rewards/{made['id']}", {"active_until": iso(10)})
    assert moved.status_code == 200 and moved.json["active_until"]
    wrong = api.patch(f"/rewards/{made['id']}", {"active_from": iso(20)})
    assert wrong.status_code == 422
    assert wrong.json["error"]["fields"] == {"active_until": ["the end must be after the start"]}
    bad = api.post("/rewards", COFFEE | {"active_from": "soon"}, scope="admin")
    assert bad.status_code == 422 and "active_from" in bad.json["error"]["fields"]
    db.expire_all()
    stored = db.get(Reward, made["id"])
    assert stored.active_from is None and stored.active_until is not None
    updates = db.scalars(select(AuditEntry).where(AuditEntry.action == "reward.updated")).all()
    assert len(updates) == 1 and updates[0].before["active_until"] is None
