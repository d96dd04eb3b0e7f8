"""``GET /metrics``: off by default, for admin keys only, and every metric the docs name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from loyalty_plugin.cli.intake import intake
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.merchants.api_keys import create_api_key
from tests.webhooks.conftest import customer, event, invoice

OPERATIONS = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
PAID = event("invoice.paid", {"invoice": invoice(customer=customer())})


@pytest.fixture
def metrics_host(host):
    """The app with metrics on; returns (app, admin key, read key)."""
    host.config["LOYALTY_METRICS"] = True
    with host.app_context():
        session = host.extensions["loyalty"].db.session
        _row, admin = create_api_key(
            session, merchant_id="default", scope="admin", name="prometheus", now=utcnow()
        )
        _row, read = create_api_key(
            session, merchant_id="default", scope="read", name="reader", now=utcnow()
        )
        session.commit()
    return host, admin, read


def scrape(client, key: str | None) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    response = client.get("/loyalty/metrics", headers=headers)
    return response.status_code, response.get_data(as_text=True)


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample of the exposition, or ``None``."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        head, _, value = line.rpartition(" ")
        metric, _, label_text = head.partition("{")
        found = dict(re.findall(r'(\w+)="([^"]*)"', label_text))
        if metric == name and all(found.get(k) == v for k, v in labels.items()):
            return float(value)
    return None


def test_metrics_are_off_unless_configured(host, client) -> None:
    """Without LOYALTY_METRICS the endpoint is 404, whatever key is sent."""
    assert client.get("/loyalty/metrics").status_code == 404


def test_metrics_need_an_admin_key(metrics_host, client) -> None:
    """No key: 401; a read key: 403; an admin key: the text format."""
    _app, admin, read = metrics_host
    assert scrape(client, None)[0] == 401
    assert scrape(client, read)[0] == 403
    status, text = scrape(client, admin)
    assert status == 200
    assert "# TYPE loyalty_intake_backlog gauge" in text


def test_metrics_count_events_backlog_and_latency(metrics_host, client, post) -> None:
    """A synchronous event counts as processed; a queued one shows in the backlog until a
    worker applies it; both intake and apply latencies are observed."""
    app, admin, _read = metrics_host
    _status, before = scrape(client, admin)
    processed = sample(before, "loyalty_host_events_total", type="invoice.paid", status="processed")
    assert post(PAID).status_code == 200
    app.config["LOYALTY_WEBHOOK_INTAKE"] = "queue"
    second = event("invoice.paid", {"invoice": invoice("INV-2", customer=customer())})
    assert post(second, msg_id="msg_2").status_code == 202

    _status, text = scrape(client, admin)
    after = sample(text, "loyalty_host_events_total", type="invoice.paid", status="processed")
    assert after == (processed or 0) + 1
    assert sample(text, "loyalty_intake_backlog") == 1
    assert sample(text, "loyalty_host_events_stored", type="invoice.paid", status="queued") == 1
    assert sample(text, "loyalty_webhook_intake_seconds_count", mode="queue", code="202") >= 1

    assert app.test_cli_runner().invoke(intake, ["work", "--drain"]).exit_code == 0
    _status, text = scrape(client, admin)
    assert sample(text, "loyalty_intake_backlog") == 0
    assert sample(text, "loyalty_intake_backlog_oldest_seconds") == 0
    assert sample(text, "loyalty_host_event_apply_seconds_count", mode="queue") >= 1
    # Three entries: the registration bonus and one earning per invoice.
    assert sample(text, "loyalty_ledger_last_entry_id") >= 3
    assert sample(text, "loyalty_database_lock_waits") == 0


def documented_rules() -> list[dict]:
    """The alert rules of the YAML example in docs/operations.md (section Metrics)."""
    section = OPERATIONS.read_text().split("## Metrics", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```yaml\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1
    documents = [yaml.safe_load(part) for part in blocks[0].split("\n# loyalty_alerts.yml\n")]
    assert documents[0]["scrape_configs"][0]["metrics_path"] == "/loyalty/metrics"
    return documents[1]["groups"][0]["rules"]


def test_the_documented_alerts_name_exported_metrics(metrics_host, client) -> None:
    """The three alerts of docs/operations.md parse, and every metric they name is exported
    (with its labels)."""
    _app, admin, _read = metrics_host
    _status, text = scrape(client, admin)
    families = set(re.findall(r"^# TYPE (\w+) ", text, flags=re.M))
    rules = documented_rules()
    assert [rule["alert"] for rule in rules] == [
        "LoyaltyIntakeBacklogOld",
        "LoyaltyDeadHostEvents",
        "LoyaltyJobFailing",
    ]
    for rule in rules:
        for name in re.findall(r"\bloyalty_\w+", rule["expr"]):
            assert name in families, f"{rule['alert']} names {name}, which is not exported"
