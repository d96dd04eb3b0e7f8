"""Coupons, the rewards catalogue, manual adjustments, and the customer's view of it all."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from loyalty_plugin.domain.coupons import ALPHABET
from loyalty_plugin.models import Coupon, LedgerEntry
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.ledger.integrity import verify_ledger
from loyalty_plugin.services.spending import coupons as coupon_service
from tests.api.conftest import invoice


def balance(api, customer_id: str = "42") -> int:
    return api.get(f"/customers/{customer_id}").json["accounts"][0]["balance"]


def test_points_become_a_coupon_at_the_merchants_rate(api, customer, configure) -> None:
    """500 points at 100 = 1.00 buy a 5.00 coupon with an unambiguous random code."""
    configure(coupon_min_points=200, coupon_valid_days=30)
    customer("42", 800)
    made = api.post("/coupons", {"customer_id": "42", "points": 500})
    assert made.status_code == 201, made.json
    code = made.json["code"]
    assert (made.json["amount"], made.json["currency"], made.json["points"]) == ("5.00", "EUR", 500)
    assert set(code.replace("-", "")) <= set(ALPHABET) and len(code) == 14
    assert balance(api) == 300
    small = api.post("/coupons", {"customer_id": "42", "points": 100})
    assert small.status_code == 422 and "points" in small.json["error"]["fields"]


def test_fixed_packages_are_the_only_choice(api, customer, configure) -> None:
    """With packages set, only their sizes can be bought."""
    configure(coupon_packages=[{"points": 500, "amount": "5.00"}, {"points": 900, "amount": "10"}])
    customer("42", 2000)
    assert api.post("/coupons", {"customer_id": "42", "points": 900}).json["amount"] == "10"
    refused = api.post("/coupons", {"customer_id": "42", "points": 600})
    assert refused.status_code == 422 and "500, 900" in refused.json["error"]["message"]


def test_coupon_is_checked_and_redeemed_once(api, customer) -> None:
    """A coupon reads as usable, redeems once, then reads as redeemed."""
    customer("42", 800)
    code = api.post("/coupons", {"customer_id": "42", "points": 500}).json["code"]
    assert api.get(f"/coupons/{code.lower()}").json["usable"] is True
    used = api.post(f"/coupons/{code}/redeem", {"invoice_id": "INV-7"}, key=None)
    assert used.status_code == 200 and used.json["status"] == "redeemed"
    again = api.post(f"/coupons/{code}/redeem", {"invoice_id": "INV-8"}, key=None)
    assert again.status_code == 409 and "redeemed" in again.json["error"]["message"]
    check = api.get(f"/coupons/{code}").json
    assert (check["usable"], check["unusable_reason"]) == (False, "the coupon is redeemed")


def test_coupon_code_is_found_without_its_dashes_or_with_spaces(api, customer) -> None:
    """A code typed without dashes, with spaces for them, or in lower case is the same code."""
    customer("42", 800)
    code = api.post("/coupons", {"customer_id": "42", "points": 500}).json["code"]
    bare = code.replace("-", "")
    for typed in (bare, code.replace("-", " "), f" {bare.lower()} ", code.replace("-", " - ")):
        found = api.get(f"/coupons/{typed}")
        assert (found.status_code, found.json.get("code")) == (200, code), typed
    used = api.post(f"/coupons/{bare.lower()}/redeem", {"invoice_id": "INV-7"}, key=None)
    assert (used.status_code, used.json["status"]) == (200, "redeemed")


def test_campaign_code_is_found_without_its_dashes(api) -> None:
    """A prefixed campaign code is found typed as one word or with spaces."""
    body = {"name": "Summer", "count": 1, "kind": "percent", "percent": "10", "prefix": "sun"}
    code = api.post("/coupon-campaigns", body, scope="admin", key=None).json["codes"][0]
    for typed in (code.replace("-", ""), code.replace("-", " ").lower()):
        assert api.get(f"/coupons/{typed}").json["code"] == code, typed


def test_someone_elses_coupon_is_refused(api, customer) -> None:
    """A customer-bound coupon cannot be redeemed for another customer."""
    customer("42", 800)
    customer("43")
    code = api.post("/coupons", {"customer_id": "42", "points": 500}).json["code"]
    answer = api.post(f"/coupons/{code}/redeem", {"customer_id": "43"})
    assert answer.status_code == 409 and "customer_id" in answer.json["error"]["fields"]


def test_cancelling_the_invoice_restores_an_unexpired_coupon(api, customer, db) -> None:
    """restore_coupons_for_invoice makes the coupon usable again, and is idempotent."""
    customer("42", 800)
    code = api.post("/coupons", {"customer_id": "42", "points": 500}).json["code"]
    api.post(f"/coupons/{code}/redeem", {"invoice_id": "INV-7"})
    for _ in range(2):
        coupon_service.restore_coupons_for_invoice(
            db, merchant_id="shop", invoice_id="INV-7", now=utcnow(), actor="t"
        )
        db.commit()
    assert api.get(f"/coupons/{code}").json["status"] == "active"


def test_expired_unused_coupon_gives_points_back_when_set(api, customer, db, configure) -> None:
    """With refunds on expiry, an expired coupon's points return to their lots."""
    configure(coupon_refund_on_expiry=True, coupon_valid_days=10)
    account = customer("42", 800)
    code = api.post("/coupons", {"customer_id": "42", "points": 500}).json["code"]
    expired = coupon_service.expire_coupons(db, now=utcnow() + timedelta(days=11))
    db.commit()
    assert [c.code for c in expired] == [code]
    db.refresh(account)
    assert account.balance == 800 and account.lifetime_redeemed == 0
    assert api.get(f"/coupons/{code}").json["status"] == "expired"
    assert verify_ledger(db) == []


def test_campaign_generates_distinct_codes_without_points(api, customer, db) -> None:
    """A campaign issues N unique prefixed codes and touches no ledger."""
    body = {"name": "Summer", "count": 50, "kind": "percent", "percent": "10", "prefix": "sun"}
    made = api.post("/coupon-campaigns", body, scope="admin", key=None)
    assert made.status_code == 201, made.json
    codes = made.json["codes"]
    assert len(set(codes)) == 50 and all(c.startswith("SUN-") for c in codes)
    assert db.scalars(select(LedgerEntry)).all() == []
    page = api.get("/coupons", campaign_id=made.json["id"], limit=20).json
    assert len(page["data"]) == 20 and page["next_cursor"]
    rest = api.get("/coupons", campaign_id=made.json["id"], limit=40, cursor=page["next_cursor"])
    assert len(rest.json["data"]) == 30 and rest.json["next_cursor"] is None
    assert api.post("/coupon-campaigns", body, scope="write").status_code == 403


def test_reward_stock_and_per_customer_limit(api, customer) -> None:
    """A reward sells while in stock and within the per-customer limit; each sale a coupon."""
    customer("42", 5000)
    customer("43", 5000)
    reward = api.post(
        "/rewards",
        {
            "name": "Free coffee",
            "points": 300,
            "kind": "product",
            "product_ids": ["coffee"],
            "stock": 2,
            "per_customer_limit": 1,
            "coupon_valid_days": 30,
        },
        scope="admin",
    ).json
    buy = f"/rewards/{reward['id']}/purchase"
    first = api.post(buy, {"customer_id": "42"})
    assert first.status_code == 201 and first.json["product_ids"] == ["coffee"]
    assert first.json["reward_id"] == reward["id"]
    again = api.post(buy, {"customer_id": "42"})
    assert again.status_code == 409
    assert (again.json["error"]["reason"], again.json["error"]["facts"]) == (
        "reward_limit_reached",
        {"limit": 1},
    )
    assert api.post(buy, {"customer_id": "43"}).status_code == 201
    customer("44", 5000)
    sold_out = api.post(buy, {"customer_id": "44"})
    assert sold_out.status_code == 409 and "stock" in sold_out.json["error"]["message"]
    assert sold_out.json["error"]["reason"] == "reward_sold_out"
    assert balance(api) == 4700
    listed = api.get("/rewards").json["data"]
    assert listed[0]["stock"] == 0
    off = api.patch(f"/rewards/{reward['id']}", {"active": False, "stock": 5})
    assert off.json["active"] is False
    assert api.post(buy, {"customer_id": "44"}).status_code == 409


def test_small_adjustment_applies_at_once(api, customer, db) -> None:
    """Below the threshold an adjustment is written at once, by the named staff member."""
    customer("42", 100)
    body = {"customer_id": "42", "points": -30, "reason": "damaged card", "staff": "ann"}
    made = api.post("/adjustments", body)
    assert made.status_code == 201 and made.json["status"] == "applied"
    entry = db.get(LedgerEntry, made.json["entry_id"])
    assert (entry.kind, entry.points, entry.actor, entry.reason) == (
        "adjust",
        -30,
        "staff:ann",
        "damaged card",
    )
    assert balance(api) == 70


def test_large_adjustment_waits_for_a_second_staff_member(api, customer, configure) -> None:
    """Above the threshold: pending (202), the requester cannot approve, another can."""
    configure(adjustment_approval_above=1000)
    customer("42")
    body = {"customer_id": "42", "points": 5000, "reason": "goodwill", "staff": "Ann"}
    made = api.post("/adjustments", body)
    assert made.status_code == 202 and made.json["status"] == "pending"
    assert balance(api) == 0
    path = f"/adjustments/{made.json['id']}"
    assert [a["id"] for a in api.get("/adjustments", status="pending").json["data"]] == [
        made.json["id"]
    ]
    self_approval = api.post(path + "/approve", {"staff": "ann"})
    assert self_approval.status_code == 409 and "staff" in self_approval.json["error"]["fields"]
    approved = api.post(path + "/approve", {"staff": "Bob", "note": "ok"})
    assert approved.json["status"] == "applied" and approved.json["decided_by"] == "Bob"
    assert balance(api) == 5000
    assert api.post(path + "/reject", {"staff": "Cy"}).status_code == 409


def test_rejected_adjustment_never_reaches_the_ledger(api, customer, configure, db) -> None:
    """A rejected adjustment stays in the audit trail with no ledger entry."""
    configure(adjustment_approval_above=10)
    customer("42", 100)
    body = {"customer_id": "42", "points": -50, "reason": "fraud?", "staff": "ann"}
    made = api.post("/adjustments", body).json
    rejected = api.post(f"/adjustments/{made['id']}/reject", {"staff": "bob"}).json
    assert rejected["status"] == "rejected" and rejected["entry_id"] is None
    assert balance(api) == 100
    assert api.get(f"/adjustments/{made['id']}").json["requested_by"] == "ann"


def test_customer_shows_balance_held_pending_lifetime_and_next_expiry(api, customer, db) -> None:
    """The customer view adds up every figure per merchant."""
    now = utcnow()
    customer("42", 100, 50, 300, expires_in=[10, 10, 90], now=now)
    api.post("/redemptions", {"customer_id": "42", "points": 120, "invoice": invoice()})
    account = api.get("/customers/42").json["accounts"][0]
    assert (account["balance"], account["available"], account["held"]) == (330, 330, 120)
    assert account["lifetime_earned"] == 450 and account["pending"] == 0
    assert account["next_expiry_points"] == 30
    assert account["next_expiry_date"] == (now + timedelta(days=10)).date().isoformat()


def test_ledger_lists_entries_newest_first_with_lots_touched(api, customer) -> None:
    """The points log pages newest first and shows which lots each entry touched."""
    customer("42", 100, 50, expires_in=[30, 60])
    api.post("/redemptions", {"customer_id": "42", "points": 120, "invoice": invoice()})
    first = api.get("/customers/42/ledger", limit=1).json
    hold = first["data"][0]
    assert (hold["kind"], hold["points"], hold["reference"]) == (
        "hold",
        -120,
        {"type": "invoice", "id": "INV-1"},
    )
    assert [lot["points"] for lot in hold["lots"]] == [-100, -20]
    rest = api.get("/customers/42/ledger", cursor=first["next_cursor"]).json
    assert [e["kind"] for e in rest["data"]] == ["earn", "earn"] and rest["next_cursor"] is None
    assert rest["data"][0]["lots"][0]["points"] == 50


def test_coupon_amounts_are_decimal(db, customer, configure) -> None:
    """Coupon values are exact Decimals on every backend."""
    configure(coupon_points=3, coupon_amount=Decimal("0.10"))
    customer("42", 100)
    coupon = coupon_service.convert_points_to_coupon(
        db, merchant_id="shop", customer_id="42", points=10, now=utcnow(), actor="t"
    )
    db.commit()
    assert db.get(Coupon, coupon.id).amount == Decimal("0.33")
