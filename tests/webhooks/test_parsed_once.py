"""A delivery's JSON is parsed once, whichever the intake (issue 20): the signature check
reads the merchant's id from it, then the queue its type and lane, or the handler the
whole event; each used to parse the body again."""

from __future__ import annotations

from typing import Any

import pytest

from loyalty_plugin.services.intake import webhooks
from tests.webhooks.conftest import event, invoice


@pytest.mark.backends("sqlite")
@pytest.mark.parametrize("intake", ["sync", "queue"])
def test_a_delivery_is_parsed_once(
    app: Any, post: Any, intake: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if intake == "queue":
        app.config["LOYALTY_WEBHOOK_INTAKE"] = "queue"
    parsed: list[bytes] = []
    real = webhooks.parse_json

    def counting(body: bytes) -> Any:
        parsed.append(body)
        return real(body)

    monkeypatch.setattr(webhooks, "parse_json", counting)
    body = event("invoice.paid", {"invoice": invoice("P1"), "customer": {"id": "c1"}})
    answer = post(body, msg_id="msg_parsed_once")
    assert answer.status_code == (202 if intake == "queue" else 200), answer.json
    assert len(parsed) == 1, parsed


@pytest.mark.backends("sqlite")
def test_a_body_that_is_not_json_is_still_refused_as_invalid_json(app: Any, post: Any) -> None:
    """Parsed once, the error is still the sender's: 400 ``invalid_json``."""
    answer = post(b"{not json", msg_id="msg_not_json")
    assert answer.status_code == 400, answer.json
    assert answer.json["error"]["code"] == "invalid_json", answer.json
