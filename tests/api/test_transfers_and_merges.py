"""POST /transfers and POST /customers/{id}/merge: scopes, keys, answers and the ledger."""

from __future__ import annotations

from sqlalchemy import select

from loyalty_plugin.models import Account, AuditEntry, Customer
from loyalty_plugin.services.ledger.integrity import verify_ledger


def balances(db, *accounts: Account) -> list[int]:
    db.expire_all()
    return [db.get(Account, a.id).balance for a in accounts]


TRANSFER = {"from_customer_id": "1", "to_customer_id": "2", "points": 70, "reason": "gift"}


def test_transfer_moves_points_keeping_expiry(api, db, customer) -> None:
    """70 of 50 (expiring in 10 days) + 100 (in 90): the 50, then 20 of the 100, dates kept."""
    ana = customer("1", 50, 100, expires_in=[10, 90])
    ben = customer("2")
    answer = api.post("/transfers", TRANSFER)
    assert answer.status_code == 201, answer.json
    body = answer.json
    assert (body["from_customer_id"], body["to_customer_id"], body["points"]) == ("1", "2", 70)
    assert [lot["points"] for lot in body["lots"]] == [50, 20]
    assert body["lots"][0]["expires_at"] < body["lots"][1]["expires_at"]
    assert balances(db, ana, ben) == [80, 70]
    # The fixture's API keys are audited too (api_key.created); the transfer is one row.
    audit = db.scalars(select(AuditEntry).where(AuditEntry.target_type == "customer")).one()
    assert (audit.action, audit.actor_kind) == ("points.transferred", "api_key")
    assert verify_ledger(db) == []


def test_transfer_is_idempotent_and_needs_a_key(api, db, customer) -> None:
    """The same key twice moves points once; no key is 400; too many points is 409."""
    ana, ben = customer("1", 100), customer("2")
    first = api.post("/transfers", TRANSFER, key="gift-1")
    again = api.post("/transfers", TRANSFER, key="gift-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json == first.json
    assert balances(db, ana, ben) == [30, 70]
    missing = api.post("/transfers", TRANSFER, key=None)
    assert missing.status_code == 400
    short = api.post("/transfers", TRANSFER | {"points": 31})
    assert short.status_code == 409
    assert short.json["error"]["code"] == "insufficient_points"
    assert short.json["error"]["fields"] == {
        "points": ["requested 31 points but only 30 are available"]
    }
    assert balances(db, ana, ben) == [30, 70]


def test_transfer_refusals_name_the_field(api, customer) -> None:
    """An unknown receiver is 404 on to_customer_id; to oneself is 422; read keys are 403."""
    customer("1", 100)
    unknown = api.post("/transfers", TRANSFER | {"to_customer_id": "nobody"})
    assert unknown.status_code == 404
    assert "to_customer_id" in unknown.json["error"]["fields"]
    itself = api.post("/transfers", TRANSFER | {"to_customer_id": "1"})
    assert itself.status_code == 422
    assert "to_customer_id" in itself.json["error"]["fields"]
    assert api.post("/transfers", TRANSFER, scope="read").status_code == 403


def test_merge_moves_everything_and_the_host_id_follows(api, db, customer) -> None:
    """Merge 1 into 2: points move, 1 is kept and marked, GET /customers/1 ... reads 2."""
    ana, ben = customer("1", 50, 100), customer("2", 5)
    answer = api.post("/customers/1/merge", {"into_customer_id": "2"}, scope="admin")
    assert answer.status_code == 200, answer.json
    assert answer.json | {"merged_at": None} == {
        "customer_id": "1",
        "into_customer_id": "2",
        "points_moved": 150,
        "debt_moved": 0,
        "lots_moved": 2,
        "merged_at": None,
        "already_merged": False,
    }
    assert balances(db, ana, ben) == [0, 155]
    merged = db.scalars(select(Customer).where(Customer.host_customer_id == "1")).one()
    assert merged.merged_into_id == ben.customer_id
    read = api.get("/customers/1").json  # the merged id reads as the survivor
    assert (read["customer_id"], read["accounts"][0]["balance"]) == ("2", 155)
    # Later calls naming the merged id act on the survivor.
    given = api.post("/transfers", TRANSFER | {"from_customer_id": "2", "to_customer_id": "3"})
    assert given.status_code == 404  # 3 does not exist: nothing moved
    customer("3")
    moved = api.post("/transfers", TRANSFER | {"from_customer_id": "1", "to_customer_id": "3"})
    assert moved.status_code == 201
    assert moved.json["from_customer_id"] == "2"
    again = api.post("/customers/1/merge", {"into_customer_id": "2"}, scope="admin")
    assert (again.status_code, again.json["already_merged"]) == (200, True)
    assert verify_ledger(db) == []


def test_merge_needs_the_admin_scope_and_known_customers(api, customer) -> None:
    """A write key is 403; an unknown survivor 404; a customer into themselves 422."""
    customer("1", 10)
    customer("2")
    assert api.post("/customers/1/merge", {"into_customer_id": "2"}).status_code == 403
    unknown = api.post("/customers/1/merge", {"into_customer_id": "9"}, scope="admin")
    assert unknown.status_code == 404
    assert "into_customer_id" in unknown.json["error"]["fields"]
    itself = api.post("/customers/1/merge", {"into_customer_id": "1"}, scope="admin")
    assert itself.status_code == 422
    assert (
        api.post(
            "/customers/1/merge", {"into_customer_id": "2"}, scope="admin", key=None
        ).status_code
        == 400
    )


def test_openapi_describes_both_routes(api) -> None:
    """Both routes are in the OpenAPI document, with their bodies and the key header."""
    document = api.get("/openapi.json", scope=None).json
    transfer = document["paths"]["/loyalty/api/v1/transfers"]["post"]
    merge = document["paths"]["/loyalty/api/v1/customers/{customer_id}/merge"]["post"]
    for operation in (transfer, merge):
        names = {p["name"]: p for p in operation["parameters"] if p["in"] == "header"}
        assert names["Idempotency-Key"]["required"] is True
    assert "201" in transfer["responses"] and "200" in merge["responses"]
