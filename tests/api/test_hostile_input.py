"""Hostile or odd bodies sent to the API: a clear 4xx naming the field, never a 500 (#12)."""

from __future__ import annotations

import json

import pytest

from tests.api.conftest import PREFIX
from tests.api.test_bad_input import counts

DEEP = b"[" * 5000 + b"]" * 5000


def test_deeply_nested_json_is_400_with_a_message(api, customer) -> None:
    """``[`` x 5000 then ``]`` x 5000 is refused as JSON nested too deeply, not a crash."""
    customer("42", 500)
    answer = api.client.post(
        PREFIX + "/redemptions",
        data=DEEP,
        content_type="application/json",
        headers=api.headers("write", "deep"),
    )
    assert answer.status_code == 400, answer.json
    assert answer.json["error"]["code"] == "invalid_json"
    assert "levels deep" in answer.json["error"]["message"]


def test_nesting_just_past_the_limit_is_400(api, customer) -> None:
    """Thirty-three levels, well within Python's own limit, are refused too."""
    customer("42", 500)
    nested: object = 1
    for _ in range(31):
        nested = [nested]
    body = {"customer_id": "42", "points": 1, "invoice": {"x": nested}}
    answer = api.post("/redemptions", body)
    assert answer.status_code == 400, answer.json
    assert "32 levels" in answer.json["error"]["message"]


def test_coupon_packages_can_be_set_and_read_back(api, shop) -> None:
    """The documented ``coupon_packages`` PATCH is saved, and GET /settings shows it (#12.9)."""
    packages = [{"points": 500, "amount": "5.00"}, {"points": 1000, "amount": 12}]
    answer = api.patch("/settings", {"coupon_packages": packages})
    assert answer.status_code == 200, answer.json
    expected = [{"points": 500, "amount": "5.00"}, {"points": 1000, "amount": "12.00"}]
    assert answer.json["coupon_packages"] == expected
    again = api.client.get(PREFIX + "/settings", headers=api.headers("admin", None))
    assert again.status_code == 200, again.json
    assert again.json["coupon_packages"] == expected


def test_coupon_packages_are_what_coupons_are_made_of(api, customer) -> None:
    """Once packages are set, a coupon is one of them: 500 points buy 5.00."""
    customer("42", 800)
    api.patch("/settings", {"coupon_packages": [{"points": 500, "amount": "5.00"}]})
    made = api.post("/coupons", {"customer_id": "42", "points": 500})
    assert made.status_code == 201, made.json
    assert made.json["amount"] == "5.00"
    refused = api.post("/coupons", {"customer_id": "42", "points": 300})
    assert refused.status_code in (409, 422), refused.json


ADJUST = {"customer_id": "42", "points": 5, "reason": "goodwill", "staff": "ann"}
HUGE = "9" * 5000


def _post_raw(api, path: str, raw: str) -> object:
    return api.client.post(
        PREFIX + path,
        data=raw.encode(),
        content_type="application/json",
        headers=api.headers("write", raw[:40] + str(len(raw))),
    )


@pytest.mark.parametrize(
    ("path", "raw", "field"),
    [
        ("/adjustments", f'{{"customer_id": "42", "points": {HUGE}, "reason": "r", "staff": "a"}}',
         "points"),
        ("/redemptions", f'{{"customer_id": "42", "points": 5, "invoice": {{"id": "I1", '
         f'"currency": "EUR", "total": {HUGE}}}}}', "invoice.total"),
        ("/adjustments", json.dumps(ADJUST | {"expires_at": "9999-12-31T23:59:59-14:00"}),
         "expires_at"),
        ("/adjustments", json.dumps(ADJUST | {"expires_at": "0001-01-01T00:00:00+14:00"}),
         "expires_at"),
        ("/adjustments", json.dumps(ADJUST | {"reason": "bad \ud800 text"}), "reason"),
        ("/adjustments", json.dumps(ADJUST | {"staff": "\udfff"}), "staff"),
    ],
)  # fmt: skip
def test_values_python_cannot_hold_are_422_naming_the_field(api, customer, db, path, raw, field):
    """A 5,000-digit integer, a date-time past year 9999 in UTC, an unpaired surrogate: each
    is 422 ``invalid_input`` naming its field, and nothing is written (#12.10)."""
    customer("42", 500)
    before = counts(db)
    answer = _post_raw(api, path, raw)
    assert answer.status_code == 422, answer.json
    assert answer.json["error"]["code"] == "invalid_input"
    assert field in answer.json["error"]["fields"], answer.json
    assert counts(db) == before


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_a_body_that_is_not_sent_as_json_is_415(api, customer, content_type) -> None:
    """A POST whose body is not declared JSON is not read as an empty body: 415 says what
    to send (#13 item 8)."""
    customer("42", 500)
    headers = api.headers("write", "k415")
    if content_type:
        headers["Content-Type"] = content_type
    body = json.dumps(ADJUST).encode()
    answer = api.client.post(PREFIX + "/adjustments", data=body, headers=headers)
    assert answer.status_code == 415, answer.json
    assert answer.json["error"]["code"] == "unsupported_media_type"
    assert "Content-Type: application/json" in answer.json["error"]["message"]


def test_json_with_a_charset_or_no_body_at_all_is_accepted(api, customer) -> None:
    """``application/json; charset=utf-8`` is JSON; a POST with no body needs no type."""
    customer("42", 500)
    answer = api.client.post(
        PREFIX + "/adjustments",
        data=json.dumps(ADJUST).encode(),
        headers=api.headers("write", "kcs") | {"Content-Type": "application/json; charset=utf-8"},
    )
    assert answer.status_code in (201, 202), answer.json
    bare = api.client.post(PREFIX + "/redemptions/999/release", headers=api.headers("write", "r"))
    assert bare.status_code == 404, bare.json


def test_a_json_type_with_an_empty_body_is_no_body(api, customer) -> None:
    """``curl -X POST -H 'Content-Type: application/json'`` with no data, on a route whose
    body is optional, is a POST with no body, not ``400 invalid_json`` (#13); a required
    field is still named."""
    customer("42", 500)
    json_type = {"Content-Type": "application/json"}
    bare = api.client.post(
        PREFIX + "/redemptions/999/release", headers=api.headers("write", "e1") | json_type
    )
    assert bare.status_code == 404, bare.json
    missing = api.client.post(
        PREFIX + "/adjustments", headers=api.headers("write", "e2") | json_type
    )
    assert missing.status_code == 422, missing.json
    assert "customer_id" in missing.json["error"]["fields"]


def test_a_body_over_the_api_limit_is_413_as_json(app, api, customer, db) -> None:
    """``LOYALTY_API_MAX_BYTES`` bounds a JSON body: 413 in the error shape, nothing read."""
    customer("42", 500)
    app.config["LOYALTY_API_MAX_BYTES"] = 1000
    before = counts(db)
    answer = api.post("/adjustments", ADJUST | {"reason": "x" * 2000})
    assert answer.status_code == 413, answer.data[:200]
    assert answer.json["error"]["code"] == "payload_too_large"
    assert counts(db) == before
    assert api.post("/adjustments", ADJUST).status_code in (201, 202)
