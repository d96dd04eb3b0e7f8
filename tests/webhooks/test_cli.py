"""Provisioning and trying an integration by hand: secrets, endpoints, send-event, senders."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from loyalty_plugin.cli import main
from loyalty_plugin.domain.signatures import verify
from loyalty_plugin.host import process_event
from loyalty_plugin.models.base import utcnow
from tests.webhooks.conftest import SECRET, customer, event, invoice, ledger_points
from tests.webhooks.test_outbox import receiver  # noqa: F401

HOOKS = Path(__file__).resolve().parents[2] / "hooks"
VECTORS = json.loads(
    (Path(__file__).resolve().parents[1] / "data" / "standard-webhooks.json").read_text()
)


@pytest.fixture
def cli(host):
    runner = host.test_cli_runner()
    return lambda *args: runner.invoke(main, list(args))


def test_secrets_are_created_listed_and_revoked(cli) -> None:
    """create prints a whsec_ secret once; list shortens it; revoke marks it."""
    created = cli("secrets", "create", "--merchant", "default", "--json")
    secret = json.loads(created.output)
    assert secret["secret"].startswith("whsec_") and len(secret["secret"]) > 40
    listed = cli("secrets", "list", "--merchant", "default").output
    assert secret["secret"] not in listed and secret["secret"][:10] in listed
    assert "revoked secret" in cli("secrets", "revoke", str(secret["id"])).output
    assert "revoked 20" in cli("secrets", "list").output
    assert cli("secrets", "create", "--merchant", "nobody").exit_code != 0


def test_secrets_rotate_leaves_the_old_one_an_overlap(cli) -> None:
    """rotate prints a new secret; the old one is listed with the end of its overlap."""
    new = cli("secrets", "rotate", "--merchant", "default", "--overlap-days", "3").output.strip()
    assert new.startswith("whsec_") and new != SECRET
    listed = cli("secrets", "list", "--merchant", "default", "--json").output
    rows = json.loads(listed)
    assert [row["revoked_at"] is None for row in rows] == [True, False]
    assert cli("secrets", "rotate", "--merchant", "default", "--overlap-days", "0").exit_code == 2


def test_endpoints_are_set_and_listed(cli) -> None:
    """endpoints set stores one URL per merchant; a bad URL is refused."""
    assert cli("endpoints", "set", "--merchant", "default", "--url", "ftp://x").exit_code != 0
    cli("endpoints", "set", "--merchant", "default", "--url", "http://127.0.0.1:9/hook")
    listed = cli("endpoints", "list").output
    assert "default" in listed and "http://127.0.0.1:9/hook" in listed


def test_endpoints_choose_their_events_and_are_pinged(cli, receiver) -> None:  # noqa: F811
    """--event narrows what is sent ('all' widens it again); ping posts a signed ping and
    exits 1 with the reason when the endpoint does not answer 2xx."""
    url = ["--merchant", "default", "--url", receiver.url]
    chosen = cli("endpoints", "set", *url, "--event", "coupon.created", "--event", "points.earned")
    assert "coupon.created, points.earned" in chosen.output
    assert "events: coupon.created,points.earned" in cli("endpoints", "list").output
    assert "(enabled; coupon.created, points.earned)" in cli("endpoints", "set", *url).output
    assert "every event" in cli("endpoints", "set", *url, "--event", "all").output
    assert cli("endpoints", "set", *url, "--event", "points.stolen").exit_code == 2
    started = utcnow()
    pinged = cli("endpoints", "ping", "--merchant", "default")
    assert pinged.exit_code == 0, pinged.output
    assert f"{receiver.url}: HTTP 204 in " in pinged.output
    headers, body = receiver.requests[0]
    assert json.loads(body)["type"] == "ping" and headers["webhook-id"] in pinged.output
    assert verify([SECRET], headers=headers, body=body, now=started) == SECRET
    receiver.answers = [500]
    failed = cli("endpoints", "ping", "--merchant", "default")
    assert failed.exit_code == 1 and "failed: HTTP 500" in failed.output
    assert cli("endpoints", "ping", "--merchant", "nobody").exit_code == 2


def test_send_event_signs_and_posts_a_file(cli, served, host, tmp_path) -> None:
    """``loyalty send-event`` posts a signed event the service accepts."""
    path = tmp_path / "paid.json"
    path.write_text(json.dumps(event("invoice.paid", {"invoice": invoice(customer=customer())})))
    result = cli("send-event", str(path), "--url", served, "--secret", SECRET, "--id", "try-1")
    assert result.exit_code == 0, result.output
    assert "200 webhook-id try-1\n" in result.output
    assert ledger_points(host) == [("earn", 50), ("earn", 12)]
    wrong = cli("send-event", str(path), "--url", served, "--secret", "whsec_AAAA", "--id", "x")
    assert wrong.exit_code == 1 and "401 webhook-id x\n" in wrong.output


def test_the_python_sender_matches_the_vectors_and_the_service(served, host, monkeypatch):
    """hooks/python/loyalty_sender.py signs the published vectors and is accepted."""
    monkeypatch.syspath_prepend(str(HOOKS / "python"))
    import loyalty_sender

    for vector in VECTORS["valid"]:
        signature = loyalty_sender.sign(
            vector["secret"],
            vector["webhook-id"],
            int(vector["webhook-timestamp"]),
            vector["body"].encode(),
        )
        assert signature == vector["webhook-signature"]
    body = event("customer.created", {"customer": customer()})
    assert loyalty_sender.send_event(served, SECRET, body, event_id="s1")[0] == 200
    status, answer = loyalty_sender.send_event(served, SECRET, body, event_id="s1")
    assert (status, answer["status"]) == (200, "duplicate")
    sys.modules.pop("loyalty_sender")


def test_a_python_host_processes_events_in_process(host) -> None:
    """process_event: the webhook's answers without HTTP, with the same dedup."""
    body = event("invoice.paid", {"invoice": invoice(customer=customer())})
    first = process_event(body, event_id="py-1", app=host)
    again = process_event(body, event_id="py-1", app=host)
    assert (first.status, first.body["result"]["points_earned"]) == (200, 12)
    assert again.body["status"] == "duplicate"
    small = process_event(
        event("invoice.paid", {"invoice": invoice("INV-2", total=9.99)}), event_id="py-2", app=host
    )
    # A float becomes a JSON number, read back exactly as Decimal("9.99"): 0 points.
    assert (small.status, small.body["result"]["points_earned"]) == (200, 0)
    assert ledger_points(host) == [("earn", 50), ("earn", 12)]
