"""hooks/php/loyalty_webhooks.php, run by a real PHP: it signs the published vectors, its
events are accepted by the service, and it verifies what the service sends back."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from loyalty_plugin.domain.signatures import signature_headers
from tests.webhooks.conftest import SECRET, customer, event, invoice, ledger_points

HARNESS = Path(__file__).with_name("php_host.php")
VECTORS = json.loads((Path(__file__).parents[1] / "data" / "standard-webhooks.json").read_text())
FIRST = VECTORS["valid"][0]


def php(**call: Any) -> Any:
    """Run one call of the PHP library; PHP must be installed (``.ci/run`` installs it)."""
    binary = shutil.which("php")
    assert binary, "php is not installed: apt-get install php-cli (.ci/run does)"
    done = subprocess.run(
        [binary, str(HARNESS)], input=json.dumps(call), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("vector", VECTORS["valid"], ids=lambda v: v["webhook-id"])
def test_php_signs_the_published_vectors(vector: dict[str, str]) -> None:
    signature = php(
        op="sign",
        secret=vector["secret"],
        id=vector["webhook-id"],
        timestamp=vector["webhook-timestamp"],
        body=vector["body"],
    )
    assert signature == vector["webhook-signature"]


def verify(signature: str, *, now: int | None = None, body: str = FIRST["body"]) -> bool:
    headers = {
        "Webhook-Id": FIRST["webhook-id"],
        "Webhook-Timestamp": FIRST["webhook-timestamp"],
        "Webhook-Signature": signature,
    }
    at = int(FIRST["webhook-timestamp"]) if now is None else now
    return php(op="verify", secrets=[FIRST["secret"]], headers=headers, body=body, now=at)


def test_php_verifies_valid_multi_and_refuses_bad_signatures() -> None:
    assert verify(FIRST["webhook-signature"])
    assert verify(VECTORS["multi_signature_header_that_must_pass_for_first_vector"])
    for bad in VECTORS["invalid_signatures_for_first_vector"]:
        assert not verify(bad), bad
    assert not verify(FIRST["webhook-signature"], body=FIRST["body"] + " ")
    stale = int(FIRST["webhook-timestamp"]) + VECTORS["tolerance_seconds"] + 1
    assert not verify(FIRST["webhook-signature"], now=stale)


def test_php_verifies_what_the_service_signs() -> None:
    """The outbox signs with domain.signatures; a PHP host checks it with loyalty_verify."""
    body = b'{"type": "points.earned", "data": {"points": 12}}'
    headers = signature_headers([SECRET], msg_id="out_1", timestamp=1_700_000_000, body=body)
    call = {
        "secrets": [VECTORS["valid"][1]["secret"], SECRET],
        "headers": headers,
        "now": 1_700_000_100,
    }
    assert php(op="verify", body=body.decode(), **call)
    assert not php(op="verify", body=body.decode().replace("12", "13"), **call)


def test_events_sent_from_php_are_processed_once(served: str, host: Any) -> None:
    paid = event("invoice.paid", {"invoice": invoice(customer=customer())})
    status, answer = php(op="send", url=served, secret=SECRET, event=paid, id="php-1")
    assert (status, answer["status"]) == (200, "processed")
    status, answer = php(op="send", url=served, secret=SECRET, event=paid, id="php-1")
    assert (status, answer["status"]) == (200, "duplicate")
    assert ledger_points(host) == [("earn", 50), ("earn", 12)]
    status, answer = php(op="send", url=served, secret="whsec_AAAA", event=paid, id="php-2")
    assert (status, answer["error"]["code"]) == (401, "invalid_signature")
