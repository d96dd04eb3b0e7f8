"""Bad input on every endpoint answers the right code, names the field, and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from loyalty_plugin.models import Adjustment, Coupon, IdempotencyRecord, LedgerEntry, Reward
from tests.api.conftest import invoice

HOLD = {"customer_id": "42", "points": 10, "invoice": invoice()}

#: (method, path, body, status, code, field) for each kind of bad input.
CASES: list[tuple[str, str, Any, int, str, str | None]] = [
    ("POST", "/checkout/quote", {"invoice": invoice()}, 422, "invalid_input", "customer_id"),
    ("POST", "/checkout/quote", {"customer_id": "42"}, 422, "invalid_input", "invoice"),
    ("POST", "/checkout/quote", {"customer_id": "42", "invoice": {"currency": "EUR"}},
     422, "invalid_input", "invoice.total"),
    ("POST", "/checkout/quote", {"customer_id": "42", "invoice": invoice(total="1.5.0")},
     422, "invalid_input", "invoice.total"),
    ("POST", "/checkout/quote", {"customer_id": "42", "invoice": invoice("-1.00")},
     422, "invalid_input", "invoice.total"),
    ("POST", "/checkout/quote", {"customer_id": "42", "invoice": invoice(currency="EURO")},
     422, "invalid_input", "invoice.currency"),
    ("POST", "/checkout/quote", {"customer_id": "nobody", "invoice": invoice()},
     404, "not_found", "customer_id"),
    ("POST", "/redemptions", HOLD | {"points": -5}, 422, "invalid_input", "points"),
    ("POST", "/redemptions", HOLD | {"points": 2.5}, 422, "invalid_input", "points"),
    ("POST", "/redemptions", HOLD | {"points": "10"}, 422, "invalid_input", "points"),
    ("POST", "/redemptions", HOLD | {"points": 0}, 422, "invalid_input", "points"),
    ("POST", "/redemptions", HOLD | {"customer_id": "nobody"}, 404, "not_found", "customer_id"),
    ("POST", "/redemptions", HOLD | {"customer_id": "7"}, 404, "not_found", "customer_id"),
    ("POST", "/redemptions", HOLD | {"invoice": invoice() | {"id": None}},
     422, "invalid_input", "invoice.id"),
    ("POST", "/redemptions", HOLD | {"merchant_id": "other"}, 404, "not_found", "merchant_id"),
    ("POST", "/redemptions", HOLD | {"surprise": 1}, 422, "invalid_input", "surprise"),
    ("POST", "/redemptions/999/capture", {}, 404, "not_found", "redemption_id"),
    ("POST", "/redemptions/999/release", {}, 404, "not_found", "redemption_id"),
    ("POST", "/coupons", {"customer_id": "42"}, 422, "invalid_input", "points"),
    ("POST", "/coupons", {"customer_id": "42", "points": 1.5}, 422, "invalid_input", "points"),
    ("POST", "/coupons", {"customer_id": "7", "points": 100}, 404, "not_found", "customer_id"),
    ("POST", "/coupons/NOPE-NOPE/redeem", {}, 404, "not_found", "code"),
    ("POST", "/adjustments", {"customer_id": "42", "points": 5, "staff": "ann"},
     422, "invalid_input", "reason"),
    ("POST", "/adjustments", {"customer_id": "42", "points": 0, "staff": "a", "reason": "r"},
     422, "invalid_input", "points"),
    ("POST", "/adjustments", {"customer_id": "42", "points": 5, "reason": "r"},
     422, "invalid_input", "staff"),
    ("POST", "/adjustments", {"customer_id": "7", "points": 5, "reason": "r", "staff": "a"},
     404, "not_found", "customer_id"),
    ("POST", "/adjustments/999/approve", {"staff": "bob"}, 404, "not_found", "adjustment_id"),
    ("POST", "/rewards/999/purchase", {"customer_id": "42"}, 404, "not_found", "reward_id"),
    ("GET", "/customers/7", None, 404, "not_found", "customer_id"),
    ("GET", "/customers/42/ledger?cursor=garbage", None, 422, "invalid_input", "cursor"),
    ("GET", "/customers/42/ledger?limit=0", None, 422, "invalid_input", "limit"),
    ("GET", "/coupons/NOPE", None, 404, "not_found", "code"),
    ("GET", "/redemptions/999", None, 404, "not_found", "redemption_id"),
]  # fmt: skip


def counts(db) -> tuple[int, ...]:
    models = (LedgerEntry, Coupon, Adjustment, Reward)
    return tuple(db.scalar(select(func.count(m.id))) for m in models)


@pytest.mark.parametrize(("method", "path", "body", "status", "code", "field"), CASES)
def test_bad_input_names_the_field_and_changes_nothing(
    api, customer, db, configure, method, path, body, status, code, field
) -> None:
    """Each bad request answers its code with the field at fault, and writes nothing.

    Unknown customers are 404 with first sight off (on, a write creates them).
    """
    configure(create_unknown_customers=False)
    customer("42", 500)
    customer("7", 500, merchant_id="other")
    before = counts(db)
    if method == "GET":
        answer = api.client.get("/loyalty/api/v1" + path, headers=api.headers("read", None))
    else:
        answer = api.post(path, body)
    assert answer.status_code == status, answer.json
    assert answer.json["error"]["code"] == code
    assert field in answer.json["error"]["fields"], answer.json
    assert counts(db) == before


def test_malformed_json_is_400(api, customer, db) -> None:
    """A body that is not JSON: 400 invalid_json."""
    customer("42", 500)
    answer = api.client.post(
        "/loyalty/api/v1/redemptions",
        data="{not json",
        content_type="application/json",
        headers=api.headers("write", "k"),
    )
    assert answer.status_code == 400 and answer.json["error"]["code"] == "invalid_json"


def test_nan_is_not_money(api, customer) -> None:
    """NaN and Infinity are refused as numbers."""
    customer("42", 500)
    answer = api.client.post(
        "/loyalty/api/v1/checkout/quote",
        data='{"customer_id": "42", "invoice": {"currency": "EUR", "total": NaN}}',
        content_type="application/json",
        headers=api.headers("read", None),
    )
    assert answer.status_code == 400


def test_json_numbers_are_exact(api, customer) -> None:
    """A JSON number such as 10000.10 is read as Decimal, never through float."""
    customer("42", 10_000_000)
    raw = api.client.post(
        "/loyalty/api/v1/checkout/quote",
        data='{"customer_id": "42", "invoice": {"currency": "EUR", "total": 0.29}}',
        content_type="application/json",
        headers=api.headers("read", None),
    )
    assert raw.status_code == 200 and raw.json["points"] == 29


def test_idempotency_records_are_not_left_in_flight(api, customer, db) -> None:
    """Every answered request leaves its key done, never in flight."""
    customer("42", 500)
    api.post("/redemptions", HOLD | {"points": -1})
    api.post("/redemptions", HOLD)
    statuses = db.scalars(select(IdempotencyRecord.status)).all()
    assert statuses and set(statuses) == {"done"}
