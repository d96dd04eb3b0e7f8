"""Hostile or odd bodies sent to the API: a clear 4xx naming the field, never a 500 (#12)."""

from __future__ import annotations

from tests.api.conftest import PREFIX

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
    expected = [{"points": 500, "amount": "5.00"}, {"points": 1000, "amount": "12"}]
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
