"""``GET /coupons?q=`` finds codes as typed; ``POST /coupons/{code}/cancel`` gives the points
back once, refuses a used coupon with 409, and is audited under the key."""

from __future__ import annotations

from sqlalchemy import select

from loyalty_plugin.models import AuditEntry


def balance(api, customer_id: str = "42") -> int:
    return api.get(f"/customers/{customer_id}").json["accounts"][0]["balance"]


def test_search_a_code_and_cancel_it(api, customer, db) -> None:
    """The start of a code finds it; cancelling returns 500 points; a repeat key replays."""
    customer("42", 800)
    code = api.post("/coupons", {"customer_id": "42", "points": 500}).json["code"]
    api.post("/coupons", {"customer_id": "42", "points": 100})
    found = api.get("/coupons", q=code[:7].lower())
    assert [c["code"] for c in found.json["data"]] == [code]
    assert balance(api) == 200

    done = api.post(f"/coupons/{code}/cancel", {"reason": "customer asked"}, key="cancel-1")
    assert done.status_code == 200, done.json
    assert (done.json["status"], done.json["usable"]) == ("cancelled", False)
    assert balance(api) == 700
    again = api.post(f"/coupons/{code}/cancel", {"reason": "customer asked"}, key="cancel-1")
    assert (again.status_code, again.json["status"]) == (200, "cancelled")
    assert balance(api) == 700
    refused = api.post(f"/coupons/{code}/cancel", {}, key="cancel-2")
    assert refused.status_code == 409
    assert refused.json["error"]["fields"] == {
        "code": ["coupon cannot be cancelled: the coupon is cancelled"]
    }
    assert [c["code"] for c in api.get("/coupons", status="cancelled").json["data"]] == [code]
    (audit,) = db.scalars(select(AuditEntry).where(AuditEntry.action == "coupon.cancelled"))
    assert (audit.actor_kind, audit.target_id) == ("api_key", code)


def test_a_used_coupon_is_not_cancelled(api, customer) -> None:
    """Redeemed first: 409 naming the code, and the points stay spent."""
    customer("42", 800)
    code = api.post("/coupons", {"customer_id": "42", "points": 500}).json["code"]
    api.post(f"/coupons/{code}/redeem", {"invoice_id": "INV-1"}, key=None)
    refused = api.post(f"/coupons/{code}/cancel", {})
    assert refused.status_code == 409
    assert "redeemed" in refused.json["error"]["fields"]["code"][0]
    assert balance(api) == 300


def test_cancel_needs_a_key_and_a_write_scope(api, customer) -> None:
    """No Idempotency-Key: 400; a read key: 403; an unknown code: 404."""
    customer("42", 800)
    code = api.post("/coupons", {"customer_id": "42", "points": 500}).json["code"]
    assert api.post(f"/coupons/{code}/cancel", {}, key=None).status_code == 400
    assert api.post(f"/coupons/{code}/cancel", {}, scope="read").status_code == 403
    assert api.post("/coupons/NOPE-NOPE-NOPE/cancel", {}).status_code == 404
    too_long = api.get("/coupons", q="x" * 61)
    assert too_long.status_code == 422 and "q" in too_long.json["error"]["fields"]
