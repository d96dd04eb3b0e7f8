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
