"""API keys, scopes and Idempotency-Key: who may call, and what a repeat gets."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from loyalty_plugin.models import ApiKey, IdempotencyRecord, LedgerEntry
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.idempotency import (
    Claim,
    claim_key,
    purge_keys,
)
from loyalty_plugin.services.merchants.api_keys import revoke_api_key
from tests.api.conftest import invoice


def entries(db) -> int:
    return db.scalar(select(func.count(LedgerEntry.id)))


def test_keys_are_stored_hashed_and_shown_once(api, db) -> None:
    """Only a SHA-256 of a key is stored; the key itself appears nowhere in the database."""
    token = api.keys["read"]
    stored = db.scalars(select(ApiKey.secret_hash)).all()
    assert token.startswith("lk_") and all(token not in h for h in stored)
    assert all(len(h) == 64 for h in stored)


@pytest.mark.parametrize(
    "header", [None, "Bearer", "Bearer lk_nothing_real", "Basic abc", "Bearer x_y"]
)
def test_missing_or_wrong_key_is_401(api, customer, header) -> None:
    """No key, a malformed one or an unknown one: 401 with WWW-Authenticate."""
    customer("42", 10)
    headers = {} if header is None else {"Authorization": header}
    answer = api.client.get("/loyalty/api/v1/customers/42", headers=headers)
    assert answer.status_code == 401 and answer.json["error"]["code"] == "unauthorized"
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")


def test_revoked_key_is_refused(api, customer, db) -> None:
    """A revoked key stops working at once."""
    customer("42", 10)
    assert api.get("/customers/42").status_code == 200
    prefix = api.keys["read"][:11]
    revoke_api_key(db, prefix=prefix, now=utcnow())
    db.commit()
    assert api.get("/customers/42").status_code == 401


def test_last_used_time_is_recorded(api, customer, db) -> None:
    """Using a key records when it was last used."""
    customer("42", 10)
    api.get("/customers/42")
    used = db.scalar(select(ApiKey.last_used_at).where(ApiKey.prefix == api.keys["read"][:11]))
    assert used is not None


def test_read_key_cannot_write_and_write_key_cannot_administer(api, customer, db) -> None:
    """Scopes: read < write < admin; a wrong scope is 403 and nothing changes."""
    customer("42", 500)
    before = entries(db)
    hold = {"customer_id": "42", "points": 10, "invoice": invoice()}
    refused = api.post("/redemptions", hold, scope="read")
    assert refused.status_code == 403 and refused.json["error"]["code"] == "insufficient_scope"
    assert api.patch("/settings", {"hold_minutes": 5}, scope="write").status_code == 403
    assert api.get("/settings", scope="admin").status_code == 200
    assert entries(db) == before


def test_another_merchants_key_cannot_see_the_customer(api, customer) -> None:
    """A key of another merchant gets 404 for this merchant's customer."""
    customer("42", 10)
    answer = api.get("/customers/42", scope="other")
    assert answer.status_code == 404 and "customer_id" in answer.json["error"]["fields"]
    assert api.get("/customers/42", scope="other", merchant_id="shop").status_code == 404


def test_a_merchant_the_key_does_not_cover_is_not_said_to_be_missing(api, customer) -> None:
    """Naming a merchant that exists but is not the key's is 404 with the same message as an
    unknown one, and that message does not claim the merchant does not exist (#13)."""
    customer("42", 10)
    covered = api.get("/customers/42", scope="other", merchant_id="shop").json["error"]
    unknown = api.get("/customers/42", scope="other", merchant_id="nobody").json["error"]
    assert covered["message"] == unknown["message"].replace("nobody", "shop")
    assert covered["message"] == "merchant 'shop' is not one this API key acts for"
    assert covered["fields"] == {"merchant_id": [covered["message"]]}


def test_host_key_sees_each_merchant_and_must_name_one_to_write(api, customer) -> None:
    """A host key covering two merchants shows both accounts and names one per write."""
    customer("42", 10)
    customer("42", 70, merchant_id="other")
    accounts = api.get("/customers/42", scope="host").json["accounts"]
    assert {(a["merchant_id"], a["balance"]) for a in accounts} == {("shop", 10), ("other", 70)}
    hold = {"customer_id": "42", "points": 5, "invoice": invoice()}
    unnamed = api.post("/redemptions", hold, scope="host")
    assert unnamed.status_code == 422 and "merchant_id" in unnamed.json["error"]["fields"]
    named = api.post("/redemptions", hold | {"merchant_id": "other"}, scope="host")
    assert named.status_code == 201 and named.json["merchant_id"] == "other"


def test_missing_idempotency_key_is_400(api, customer, db) -> None:
    """A POST that changes points without Idempotency-Key: 400, nothing changes."""
    customer("42", 500)
    before = entries(db)
    answer = api.post("/redemptions", {"customer_id": "42", "invoice": invoice()}, key=None)
    assert answer.status_code == 400
    assert answer.json["error"]["code"] == "idempotency_key_missing"
    assert entries(db) == before


def test_same_key_and_body_replays_the_first_answer(api, customer, db) -> None:
    """A repeat gets the first answer, marked as replayed, and holds nothing more."""
    customer("42", 500)
    body = {"customer_id": "42", "points": 100, "invoice": invoice()}
    first = api.post("/redemptions", body, key="k-1")
    again = api.post("/redemptions", body, key="k-1")
    assert first.status_code == again.status_code == 201
    assert again.json == first.json and again.headers["Idempotent-Replayed"] == "true"
    assert again.data == first.data  # the first answer's exact bytes, not re-serialised
    assert again.content_type == first.content_type
    assert db.scalar(select(func.count(LedgerEntry.id)).where(LedgerEntry.kind == "hold")) == 1


def test_errors_are_replayed_too(api, customer) -> None:
    """The first answer is kept even when it was an error."""
    customer("42", 50)
    body = {"customer_id": "42", "points": 100, "invoice": invoice()}
    first = api.post("/redemptions", body, key="k-2")
    again = api.post("/redemptions", body, key="k-2")
    assert first.status_code == again.status_code == 409 and again.json == first.json
    assert again.data == first.data


def test_same_key_with_another_body_is_422(api, customer) -> None:
    """Reusing a key for a different request: 422 idempotency_key_reused."""
    customer("42", 500)
    api.post("/redemptions", {"customer_id": "42", "points": 1, "invoice": invoice()}, key="k")
    other = {"customer_id": "42", "points": 2, "invoice": invoice("5.00")}
    answer = api.post("/redemptions", other, key="k")
    assert answer.status_code == 422
    assert answer.json["error"]["code"] == "idempotency_key_reused"


def test_key_still_in_flight_is_409(api, customer, db, keys) -> None:
    """While the first request with a key runs, a repeat gets 409 idempotency_key_in_use."""
    customer("42", 500)
    body = {"customer_id": "42", "points": 1, "invoice": invoice()}
    key = db.scalars(select(ApiKey).where(ApiKey.prefix == keys["write"][:11])).one()
    from loyalty_plugin.web.api import idempotency

    with api.client.application.test_request_context(
        "/loyalty/api/v1/redemptions", method="POST", json=body
    ):
        fingerprint = idempotency._fingerprint()
    outcome = claim_key(
        db,
        merchant_id="shop",
        api_key_id=key.id,
        key="busy",
        fingerprint=fingerprint,
        now=utcnow(),
    )
    db.commit()
    assert outcome.claim == Claim.ACQUIRED
    answer = api.post("/redemptions", body, key="busy")
    assert answer.status_code == 409
    assert answer.json["error"]["code"] == "idempotency_key_in_use"


def test_keys_are_scoped_per_api_key(api, customer) -> None:
    """The same Idempotency-Key from another API key is a new request, not a replay."""
    customer("42", 500)
    body = {"customer_id": "42", "points": 1, "invoice": invoice()}
    assert api.post("/redemptions", body, key="same").status_code == 201
    other = api.post("/redemptions", body, key="same", scope="admin")
    # Not replayed: it ran, and found the hold the first request made on the invoice.
    assert other.status_code == 409 and "Idempotent-Replayed" not in other.headers
    assert "invoice.id" in other.json["error"]["fields"]


def test_old_keys_are_purged_after_retention(api, customer, db) -> None:
    """Records older than the retention period are deleted; newer ones are kept."""
    from datetime import timedelta

    customer("42", 500)
    api.post("/redemptions", {"customer_id": "42", "points": 1, "invoice": invoice()})
    assert purge_keys(db, older_than=utcnow() - timedelta(days=7)) == 0
    assert purge_keys(db, older_than=utcnow() + timedelta(seconds=1)) == 1
    db.commit()
    assert db.scalar(select(func.count(IdempotencyRecord.id))) == 0
