"""Hostile or odd bodies sent to ``/webhooks``: a clear 4xx, never a 500 (#12)."""

from __future__ import annotations

from tests.webhooks.conftest import stored

DEEP = b"[" * 5000 + b"]" * 5000


def test_deeply_nested_json_without_headers_is_refused(client, host) -> None:
    """An unsigned, deeply nested body is refused without a crash, and nothing is stored."""
    answer = client.post("/loyalty/webhooks", data=DEEP, content_type="application/json")
    assert answer.status_code == 401, answer.json
    assert stored(host) == []


def test_deeply_nested_json_signed_is_400_with_a_message(post, host) -> None:
    """A signed body nested too deeply is stored as rejected: 400 with the reason."""
    answer = post(b'{"a": ' + DEEP + b"}")
    assert answer.status_code == 400, answer.json
    assert answer.json["error"]["code"] == "invalid_json"
    assert "levels deep" in answer.json["error"]["message"]
    assert [status for _, status, _ in stored(host)] == ["rejected"]
