"""Hostile or odd bodies sent to ``/webhooks``: a clear 4xx, never a 500 (#12)."""

from __future__ import annotations

import pytest

from tests.webhooks.conftest import customer, event, invoice, ledger_points, stored

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


def _paid(**fields: object) -> dict:
    return event("invoice.paid", {"invoice": invoice(customer=customer(), **fields)})


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            _paid(currency="USD", exchange_rate="999999999999", total="9999999.00"),
            "data.invoice.exchange_rate",
        ),
        (_paid(number="INV \ud800"), "data.invoice.number"),
        (_paid() | {"occurred_at": "9999-12-31T23:59:59-14:00"}, "occurred_at"),
    ],
)
def test_permanently_invalid_events_are_422_at_intake(post, host, body, field) -> None:
    """An event that can never be processed is refused at once with its field, and stored as
    rejected, never as a retry (#12.11)."""
    answer = post(body)
    assert answer.status_code == 422, answer.json
    assert answer.json["error"]["code"] == "invalid_event"
    assert field in answer.json["error"]["fields"], answer.json
    assert [status for _, status, _ in stored(host)] == ["rejected"]
    assert ledger_points(host) == []


def test_a_missing_exchange_rate_is_an_invalid_event(post, host) -> None:
    """An invoice in another currency with no rate known: 422 ``invalid_event`` on
    ``data.invoice.exchange_rate``, like every other webhook error (#13 item 10)."""
    answer = post(_paid(currency="USD"))
    assert answer.status_code == 422, answer.json
    error = answer.json["error"]
    assert error["code"] == "invalid_event"
    assert "data.invoice.exchange_rate" in error["fields"], error
