"""Changes made with an API key are in the audit trail, under the key, with before and after."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty_plugin.models import AuditEntry
from tests.api.conftest import PREFIX

PROGRAM = {
    "key": "summer",
    "name": "Summer",
    "rules": [{"id": "base", "kind": "per_amount", "points": "1", "per": "10.00"}],
}


def audited(db: Session, action: str) -> list[AuditEntry]:
    """The audit rows of ``action``, oldest first (read fresh)."""
    db.expire_all()
    query = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
    return list(db.scalars(query))


def by_key(entry: AuditEntry, token: str) -> bool:
    return (entry.actor_kind, entry.actor_id) == ("api_key", token[:11])


def test_adjustment_request_approval_and_rejection_are_audited(api, keys, customer, configure, db):
    """Requested, approved and rejected: each a row under the API key, before and after."""
    configure(adjustment_approval_above=1000)
    customer("42")
    body = {"customer_id": "42", "points": 5000, "reason": "goodwill", "staff": "Ann"}
    headers = api.headers("write", "adjust-1") | {"X-Request-Id": "req-42"}
    made = api.client.post(f"{PREFIX}/adjustments", json=body, headers=headers).json
    [requested] = audited(db, "adjustment.requested")
    assert by_key(requested, keys["write"]) and requested.target_id == str(made["id"])
    assert requested.before is None
    assert requested.after["status"] == "pending" and requested.after["points"] == 5000
    assert requested.after["customer_id"] == "42" and requested.request_id == "req-42"
    api.post(f"/adjustments/{made['id']}/approve", {"staff": "Bob", "note": "ok"})
    [approved] = audited(db, "adjustment.approved")
    assert by_key(approved, keys["write"])
    assert (approved.before["status"], approved.after["status"]) == ("pending", "applied")
    assert (approved.before["decided_by"], approved.after["decided_by"]) == (None, "Bob")
    other = api.post("/adjustments", body).json
    api.post(f"/adjustments/{other['id']}/reject", {"staff": "Cy"})
    [rejected] = audited(db, "adjustment.rejected")
    assert (rejected.target_id, rejected.after["status"]) == (str(other["id"]), "rejected")


def test_settings_update_is_audited_with_the_changed_settings(api, keys, db):
    """PATCH /settings: the settings it changed, before and after, under the admin key."""
    assert api.patch("/settings", {"max_invoice_share": 40}).status_code == 200
    [row] = audited(db, "settings.updated")
    assert by_key(row, keys["admin"])
    before, after = row.before["max_invoice_share"], row.after["max_invoice_share"]
    assert (Decimal(before), Decimal(after)) == (100, 40)  # decimals are kept as text
    assert set(row.before) == set(row.after) == {"max_invoice_share"}
    api.patch("/settings", {"max_invoice_share": 40})
    assert len(audited(db, "settings.updated")) == 1  # nothing changed: nothing recorded


def test_program_create_update_activate_archive_are_audited(api, keys, db):
    """Each step of a program's life is a row, with the program document before and after."""
    assert api.post("/programs", PROGRAM, scope="admin").status_code == 201
    [created] = audited(db, "program.created")
    assert by_key(created, keys["admin"]) and created.target_id == "summer"
    assert created.before is None and created.after["status"] == "draft"
    api.patch("/programs/summer", {"name": "Summer sale"})
    [updated] = audited(db, "program.updated")
    assert (updated.before["name"], updated.after["name"]) == ("Summer", "Summer sale")
    api.post("/programs/summer/activate", {}, scope="admin")
    [activated] = audited(db, "program.activated")
    assert (activated.before["status"], activated.after["status"]) == ("draft", "active")
    api.post("/programs/summer/archive", None, scope="admin")
    [archived] = audited(db, "program.archived")
    assert (archived.before["status"], archived.after["status"]) == ("active", "archived")
    assert by_key(archived, keys["admin"])


def _give(api: Any, body: dict[str, Any]) -> Any:
    return api.post("/customers/42/levels/give", body, scope="admin")


def test_giving_a_level_is_audited(api, keys, customer, db):
    """Give a level: the membership before and after, with the reason, on the customer."""
    tiers = [{"key": "bronze", "name": "Bronze", "threshold": "0"},
             {"key": "gold", "name": "Gold", "threshold": "1000"}]  # fmt: skip
    program = PROGRAM | {"status": "active", "levels": {"tiers": tiers}}
    assert api.post("/programs", program, scope="admin").status_code == 201
    customer("42")
    given = _give(api, {"level": "gold", "until": "2099-01-01T00:00:00Z", "reason": "press"})
    assert given.status_code == 200, given.json
    [row] = audited(db, "level.given")
    assert by_key(row, keys["admin"]) and (row.target_type, row.target_id) == ("customer", "42")
    assert (row.before["level"], row.after["level"]) == ("bronze", "gold")
    assert row.after["reason"] == "press" and row.after["expires_at"].startswith("2099-01-01")


def test_get_audit_searches_and_pages_the_trail(api, keys, db):
    """GET /audit (admin): filters as the page's, newest first, by cursor; read keys refused."""
    for share in (30, 40, 50):
        api.patch("/settings", {"max_invoice_share": share})
    api.post("/programs", PROGRAM, scope="admin")
    assert api.get("/audit", scope="read").status_code == 403
    found = api.get("/audit", scope="admin", action="settings", limit=2).json
    assert [e["after"]["max_invoice_share"] for e in found["data"]] == ["50", "40"]
    entry = found["data"][0]
    assert entry["actor"] == {
        "kind": "api_key",
        "id": keys["admin"][:11],
        "name": keys["admin"][:11],
    }
    assert entry["target"] == {"type": "settings", "id": "shop"}
    rest = api.get("/audit", scope="admin", action="settings", cursor=found["next_cursor"]).json
    assert [e["after"]["max_invoice_share"] for e in rest["data"]] == ["30"]
    assert rest["next_cursor"] is None
    mine = api.get("/audit", scope="admin", actor=f"api_key:{keys['admin'][:11]}").json["data"]
    assert {e["action"] for e in mine} == {"settings.updated", "program.created"}
    programs = api.get("/audit", scope="admin", target_type="program", target_id="summer").json
    assert [e["action"] for e in programs["data"]] == ["program.created"]
    empty = api.get("/audit", scope="admin", **{"from": "2000-01-01", "to": "2000-01-31"}).json
    assert empty == {"data": [], "next_cursor": None}
    backwards = api.get("/audit", scope="admin", **{"from": "2000-01-31", "to": "2000-01-01"})
    assert backwards.status_code == 422 and "to" in backwards.json["error"]["fields"]


def test_rewards_and_coupon_campaigns_are_audited(api, keys, db):
    """A reward created and changed, a campaign generated: rows under the admin key."""
    body = {"name": "Free coffee", "points": 300, "kind": "product", "product_ids": ["coffee"],
            "stock": 2}  # fmt: skip
    reward = api.post("/rewards", body, scope="admin").json
    [created] = audited(db, "reward.created")
    assert by_key(created, keys["admin"]) and created.target_id == str(reward["id"])
    assert created.after["stock"] == 2 and created.after["value"]["product_ids"] == ["coffee"]
    api.patch(f"/rewards/{reward['id']}", {"active": False, "stock": 5})
    [updated] = audited(db, "reward.updated")
    assert (updated.before["stock"], updated.after["stock"]) == (2, 5)
    assert (updated.before["active"], updated.after["active"]) == (True, False)
    campaign = {"name": "Summer", "count": 3, "kind": "percent", "percent": "10", "prefix": "sun"}
    made = api.post("/coupon-campaigns", campaign, scope="admin", key=None).json
    [generated] = audited(db, "coupon_campaign.created")
    assert by_key(generated, keys["admin"]) and generated.target_id == str(made["id"])
    assert generated.after["count"] == 3 and made["codes"][0] not in str(generated.after)
