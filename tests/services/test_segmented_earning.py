# ruff: noqa: F811 - the fixtures imported below are taken as arguments
"""Segmented earning (#18) end to end: rules with conditions set up through the API,
invoices sent as signed webhooks at chosen moments, points and breakdowns read back."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from sqlalchemy.orm import Session

from loyalty_plugin.domain.signatures import signature_headers
from loyalty_plugin.models import Merchant
from tests.services.test_earning_rules_webhooks import (  # noqa: F401 - fixtures
    SECRET,
    Host,
    db,
    host,
    paid,
)

SINCE = "2026-01-01T00:00:00+00:00"
#: Double points on Tuesdays and Sundays 14:00-17:00, Berlin time.
AFTERNOON = {
    "id": "afternoon",
    "kind": "per_amount",
    "points": "1",
    "per": "10",
    "conditions": {
        "when": {"weekdays": ["tue", "sun"], "hours": [{"from": "14:00", "to": "17:00"}]}
    },
}


def send_at(host: Host, occurred_at: str, kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """A signed event that says it happened at ``occurred_at``."""
    body = json.dumps(
        {"type": kind, "occurred_at": occurred_at, "merchant_id": "shop", "data": data}
    ).encode()
    headers = signature_headers(
        [SECRET], msg_id=f"msg_{next(host.ids)}", timestamp=int(time.time()), body=body
    )
    answer = host.client.post(
        "/loyalty/webhooks", data=body, headers=headers | {"content-type": "application/json"}
    )
    assert answer.status_code == 200, answer.json
    return answer.json["result"]


@pytest.fixture
def berlin(host: Host, db: Session) -> Host:
    """``shop`` keeps its hours in Berlin."""
    db.get(Merchant, "shop").timezone = "Europe/Berlin"
    db.commit()
    return host


@pytest.mark.parametrize(
    ("occurred_at", "points"),
    [
        # Tuesday 2026-03-24, Berlin on winter time (UTC+1).
        ("2026-03-24T12:59:00+00:00", 0),  # 13:59
        ("2026-03-24T13:00:00+00:00", 10),  # 14:00
        ("2026-03-24T16:00:00+00:00", 0),  # 17:00: the end is excluded
        # Sunday 2026-03-29: the clocks went forward at 02:00, Berlin is UTC+2 from then.
        ("2026-03-29T11:59:00+00:00", 0),  # 13:59
        ("2026-03-29T12:00:00+00:00", 10),  # 14:00
        ("2026-03-29T13:00:00+00:00", 10),  # 15:00 (14:00 on winter time: still inside)
        ("2026-03-29T15:00:00+00:00", 0),  # 17:00
        # Sunday 2026-10-25: back to winter time at 03:00, Berlin is UTC+1 again.
        ("2026-10-25T12:59:00+00:00", 0),  # 13:59
        ("2026-10-25T13:00:00+00:00", 10),  # 14:00
        ("2026-10-25T16:00:00+00:00", 0),  # 17:00
    ],
)
def test_a_weekday_and_hours_rule_reads_the_local_time_of_payment(
    berlin: Host, occurred_at: str, points: int
) -> None:
    """14:00-17:00 Berlin time on Tuesdays and Sundays, across both clock changes."""
    berlin.program(effective_from=SINCE, rules=[AFTERNOON])
    result = send_at(berlin, occurred_at, "invoice.paid", paid("INV-1", "100.00"))
    assert result["points_earned"] == points
    if points:
        details = berlin.ledger("c1")[0]["details"]
        assert [c.split(":")[0] for c in details["conditions"]["afternoon"]] == [
            "when.hours",
            "when.weekdays",
        ]
    else:
        assert "when." in result["reason"]


def test_an_overnight_range_belongs_to_the_day_it_starts(berlin: Host) -> None:
    """Friday 22:00-02:00 includes Saturday 01:30, not Friday 01:30."""
    rule = {
        "id": "late",
        "kind": "per_order",
        "points": 7,
        "conditions": {"when": {"weekdays": ["fri"], "hours": [{"from": "22:00", "to": "02:00"}]}},
    }
    berlin.program(effective_from=SINCE, rules=[rule])
    # Saturday 2026-06-06 01:30 Berlin (summer time) = 23:30 UTC on Friday.
    assert (
        send_at(berlin, "2026-06-05T23:30:00Z", "invoice.paid", paid("A", "10"))["points_earned"]
        == 7
    )
    # Friday 2026-06-05 01:30 Berlin: the night that began on Thursday.
    assert (
        send_at(berlin, "2026-06-04T23:30:00Z", "invoice.paid", paid("B", "10"))["points_earned"]
        == 0
    )


def test_a_store_group_rule_earns_in_the_group_stores_only(host: Host) -> None:
    """Store groups are merchant settings; a rule names the group."""
    settings = host.client.patch(
        "/loyalty/api/v1/settings",
        json={"store_groups": {"north": ["S1", "S2"]}},
        headers={"Authorization": f"Bearer {host.keys['shop:admin']}"},
    )
    assert settings.status_code == 200, settings.json
    rule = {
        "id": "north",
        "kind": "per_amount",
        "points": "1",
        "per": "10",
        "conditions": {"where": {"store_groups": ["north"]}},
    }
    host.program(effective_from=SINCE, rules=[rule])
    assert host.send("invoice.paid", paid("I1", "100", store_id="S2"))["points_earned"] == 10
    refused = host.send("invoice.paid", paid("I2", "100", store_id="S9"))
    assert refused["points_earned"] == 0
    assert "not among the rule's stores" in refused["reason"]
    assert host.send("invoice.paid", paid("I3", "100"))["points_earned"] == 0
    details = host.ledger("c1")[0]["details"]
    assert details["conditions"] == {"north": ["where: store 'S2' in group 'north'"]}


def test_a_channel_rule_earns_on_its_channels_only(host: Host) -> None:
    """Any label the host sends works as a channel."""
    rule = {"id": "app", "kind": "per_order", "points": 25, "conditions": {"channels": ["app"]}}
    host.program(effective_from=SINCE, rules=[rule])
    assert host.send("invoice.paid", paid("I1", "50", channel="app"))["points_earned"] == 25
    assert host.send("invoice.paid", paid("I2", "50", channel="pos"))["points_earned"] == 0


def test_a_win_back_rule_needs_an_earlier_purchase_long_enough_ago(host: Host) -> None:
    """No purchase for 90 days: the next invoice earns the win-back bonus."""
    rule = {
        "id": "welcome-back",
        "kind": "per_order",
        "points": 200,
        "conditions": {"who": {"inactive_days": 90}},
    }
    host.program(effective_from=SINCE, rules=[TEN_BASE, rule])
    first = send_at(host, "2026-01-10T10:00:00Z", "invoice.paid", paid("I1", "100"))
    assert first["points_earned"] == 10  # no earlier purchase: not a win-back
    soon = send_at(host, "2026-02-10T10:00:00Z", "invoice.paid", paid("I2", "100"))
    assert soon["points_earned"] == 10  # 31 days later
    back = send_at(host, "2026-06-01T10:00:00Z", "invoice.paid", paid("I3", "100"))
    assert back["points_earned"] == 210  # 111 days after I2
    details = host.ledger("c1")[0]["details"]
    assert details["conditions"] == {
        "welcome-back": ["who.inactive_days: last purchase 111 day(s) before"]
    }


TEN_BASE = {"id": "base", "kind": "per_amount", "points": "1", "per": "10"}
LINES = (
    {"id": "L1", "qty": 1, "total": "100.00", "product_id": "P1", "category_id": "running"},
    {"id": "L2", "qty": 1, "total": "100.00", "product_id": "P2", "category_id": "hats"},
)
CATEGORIES = {"running": "shoes", "shoes": None, "hats": None}
COMPETING = [
    TEN_BASE,
    {"id": "shoes", "kind": "category", "categories": ["shoes"], "points": "3", "per": "10"},
    {"id": "p1", "kind": "product", "products": ["P1"], "points": "2", "per": "10"},
]


@pytest.mark.parametrize(
    ("conflicts", "points", "winners"),
    [
        (None, 10 + 30 + 20 + 10, {"L1": {"base", "shoes", "p1"}, "L2": {"base"}}),
        ("add", 70, {"L1": {"base", "shoes", "p1"}, "L2": {"base"}}),
        ("most_specific", 20 + 10, {"L1": {"p1"}, "L2": {"base"}}),
        ("best", 30 + 10, {"L1": {"shoes"}, "L2": {"base"}}),
    ],
)
def test_competing_rules_on_a_line_follow_the_conflicts_setting(
    host: Host, conflicts: str | None, points: int, winners: dict[str, set[str]]
) -> None:
    """Product over category over all (most_specific), the most points (best), or all."""
    more = {"conflicts": conflicts} if conflicts else {}
    host.program(effective_from=SINCE, rules=COMPETING, categories=CATEGORIES, **more)
    result = host.send("invoice.paid", paid("I1", "200.00", *LINES))
    assert result["points_earned"] == points
    details = host.ledger("c1")[0]["details"]
    found: dict[str, set[str]] = {}
    for item in details["breakdown"]:
        found.setdefault(item["line"], set()).add(item["rule"])
    assert found == winners
    if conflicts in (None, "add"):
        assert "set_aside" not in details
    elif conflicts == "most_specific":
        assert sorted((s["rule"], s["won_by"]) for s in details["set_aside"]) == [
            ("base", "p1"),
            ("shoes", "p1"),
        ]
        why = {s["rule"]: s["why"] for s in details["set_aside"]}
        assert why["shoes"] == (
            "most_specific: 'p1' (product) is more specific than 'shoes' (category)"
        )
    else:
        assert {s["rule"]: s["won_by"] for s in details["set_aside"]} == {
            "base": "shoes",
            "p1": "shoes",
        }


def test_conditions_are_validated_naming_the_field(host: Host) -> None:
    """A bad condition is a 422 whose field is the condition's path."""
    bad = dict(
        AFTERNOON,
        conditions={"when": {"weekdays": ["tuesday"], "hours": [{"from": "25:00", "to": "02:00"}]}},
    )
    headers = {"Authorization": f"Bearer {host.keys['shop:admin']}"}
    body = {"key": "main", "name": "Main", "rules": [bad]}
    answer = host.client.post("/loyalty/api/v1/programs", json=body, headers=headers)
    assert answer.status_code == 422
    fields = answer.json["error"]["fields"]
    assert set(fields) == {
        "rules.0.conditions.when.weekdays.0",
        "rules.0.conditions.when.hours.0.from",
    }
    answer = host.client.post(
        "/loyalty/api/v1/programs",
        json={"key": "main", "name": "Main", "conflicts": "first"},
        headers=headers,
    )
    assert answer.status_code == 422
    assert list(answer.json["error"]["fields"]) == ["conflicts"]
    answer = host.client.patch(
        "/loyalty/api/v1/settings", json={"store_groups": {"north": "S1"}}, headers=headers
    )
    assert answer.status_code == 422
    assert next(iter(answer.json["error"]["fields"])).startswith("store_groups")


def test_a_simulation_shows_which_conditions_matched(app: Any, tmp_path: Any) -> None:
    """Replayed events are evaluated at their occurred_at; each rule's conditions are
    tallied: invoices where all held, and each condition's matches and misses."""
    from loyalty_plugin.cli import main

    with app.app_context():
        session = app.extensions["loyalty"].db.session
        session.add(
            Merchant(id="default", name="Default", currency="EUR", timezone="Europe/Berlin")
        )
        session.commit()
    runner = app.test_cli_runner()
    program = {"key": "trial", "name": "Trial", "rules": [TEN_BASE, AFTERNOON]}
    source = tmp_path / "programs.json"
    source.write_text(json.dumps({"format": "loyalty-programs/1", "programs": [program]}))
    assert runner.invoke(main, ["programs", "import", str(source)]).exit_code == 0
    moments = ["2026-03-24T13:00:00Z", "2026-03-24T12:59:00Z", "2026-03-25T13:00:00Z"]
    rows: list[dict[str, Any]] = [
        {"type": "invoice.paid", "occurred_at": at, "data": {"invoice": {
            "id": str(n), "customer_id": "ana", "currency": "EUR", "total": "100"}}}
        for n, at in enumerate(moments, start=1)
    ]  # fmt: skip
    rows.append({"id": "4", "customer_id": "ana", "currency": "EUR", "total": "100"})
    invoices = tmp_path / "invoices.jsonl"
    invoices.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    result = runner.invoke(
        main, ["programs", "simulate", "trial", "--invoices", str(invoices), "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["total"]["points"] == 4 * 10 + 10
    assert report["conditions"] == {
        "afternoon": {
            "invoices_matched": 1,
            "invoices_failed": 3,
            "matched": {"when.hours": 2, "when.weekdays": 1},
            "failed": {"when.hours": 2, "when.weekdays": 1},
        }
    }
    text = runner.invoke(main, ["programs", "simulate", "trial", "--invoices", str(invoices)])
    assert "rule afternoon: conditions held on 1 of 4 invoice(s)" in text.output
