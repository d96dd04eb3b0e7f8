"""``loyalty programs`` and ``loyalty rates``: files in and out, dry runs, clear errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from loyalty_plugin.cli import main
from loyalty_plugin.models import LedgerEntry, Merchant

FILE = {
    "format": "loyalty-programs/1",
    "programs": [
        {
            "key": "main",
            "name": "Main",
            "status": "active",
            "rules": [{"kind": "per_amount", "points": "1", "per": "10"}],
        },
        {
            "key": "trial",
            "name": "Double points trial",
            "rules": [
                {"kind": "per_amount", "points": "2", "per": "10"},
                {"kind": "first_purchase", "points": 50},
            ],
        },
    ],
}


@pytest.fixture
def cli(app: Flask) -> Any:
    """A CLI runner on an app whose default merchant exists."""
    with app.app_context():
        session = app.extensions["loyalty"].db.session
        session.add(Merchant(id="default", name="Default", currency="EUR"))
        session.commit()
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(main, [str(a) for a in args])


def test_import_list_and_export_round_trip(cli: Any, tmp_path: Path) -> None:
    """A file imports, lists, exports, and importing the export back changes nothing."""
    source = tmp_path / "programs.json"
    source.write_text(json.dumps(FILE))
    created = cli("programs", "import", source, "--json")
    assert created.exit_code == 0, created.output
    assert json.loads(created.output)["created"] == ["main", "trial"]
    listed = cli("programs", "list")
    assert "main" in listed.output and "active" in listed.output and "draft" in listed.output
    exported = tmp_path / "export.json"
    assert cli("programs", "export", "-o", exported).exit_code == 0
    again = cli("programs", "import", exported, "--json")
    assert json.loads(again.output)["unchanged"] == ["main", "trial"]
    versions = json.loads(cli("programs", "versions", "main").output)
    assert [v["version"] for v in versions] == [1]


def test_an_invalid_file_is_refused_with_every_path(cli: Any, tmp_path: Path) -> None:
    """Errors name the program and field; nothing is imported."""
    bad = {
        "format": "loyalty-programs/1",
        "programs": [{"key": "x", "name": "X", "rules": [{"kind": "per_amount", "per": "0"}]}],
    }
    source = tmp_path / "bad.json"
    source.write_text(json.dumps(bad))
    result = cli("programs", "import", source)
    assert result.exit_code == 1
    assert "programs.0.rules.0.points" in result.output
    assert "programs.0.rules.0.per: must be greater than 0" in result.output
    assert cli("programs", "list").output == ""
    source.write_text("{not json")
    assert "is not JSON" in cli("programs", "import", source).output


def test_simulate_prints_the_cost_per_customer_and_writes_nothing(
    cli: Any, app: Flask, tmp_path: Path
) -> None:
    """A draft replayed on invoices: points and money per customer and in total."""
    source = tmp_path / "programs.json"
    source.write_text(json.dumps(FILE))
    cli("programs", "import", source)
    invoices = tmp_path / "invoices.jsonl"
    rows = [
        {"id": "1", "customer_id": "ana", "currency": "EUR", "total": "100.00"},
        {"invoice": {"id": "2", "customer_id": "ana", "currency": "EUR", "total": "55.50"}},
        {
            "type": "invoice.paid",
            "data": {"invoice": {"id": "3", "customer_id": 7, "currency": "EUR", "total": 300}},
        },
        {"id": "4", "customer_id": "bob", "currency": "EUR", "total": 1.5},
        {"id": "5", "customer_id": "bob", "currency": "USD", "total": "10"},
    ]
    invoices.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n{broken\n")
    result = cli("programs", "simulate", "trial", "--invoices", invoices, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["customers"] == [
        {"customer_id": "7", "invoices": 1, "points": 110, "value": "1.10"},
        {"customer_id": "ana", "invoices": 2, "points": 81, "value": "0.81"},
        {"customer_id": "bob", "invoices": 1, "points": 50, "value": "0.50"},
    ]
    assert report["total"] == {"invoices": 4, "points": 241, "value": "2.41"}
    assert [s["line"] for s in report["skipped"]] == [5, 7]
    assert "exchange rate" in report["skipped"][0]["error"]
    with app.app_context():
        session = app.extensions["loyalty"].db.session
        assert session.scalar(select(func.count(LedgerEntry.id))) == 0


def test_simulate_uses_rates_and_a_given_point_value(cli: Any, tmp_path: Path) -> None:
    """With a USD rate set, USD invoices count; --point-value prices the points."""
    source = tmp_path / "programs.json"
    source.write_text(json.dumps(FILE))
    cli("programs", "import", source)
    assert cli("rates", "set", "usd", "0.5").exit_code == 0
    assert "USD" in cli("rates", "list").output
    invoices = tmp_path / "invoices.jsonl"
    invoices.write_text(
        json.dumps({"id": "1", "customer_id": "c", "currency": "USD", "total": "200"})
    )
    result = cli("programs", "simulate", "main", "--invoices", invoices, "--point-value", "0.05")
    assert result.exit_code == 0, result.output
    assert "total: 1 invoice(s), 10 points, worth 0.50 EUR" in result.output
    bad = cli("rates", "set", "usd", "zero")
    assert bad.exit_code == 2 and "not a decimal" in bad.output


def test_activate_and_archive_from_the_command_line(cli: Any, tmp_path: Path) -> None:
    """A draft is activated, then archived; an archived program cannot come back."""
    source = tmp_path / "programs.json"
    source.write_text(json.dumps(FILE))
    cli("programs", "import", source)
    assert "is active" in cli("programs", "activate", "trial").output
    assert "is archived" in cli("programs", "archive", "trial").output
    again = cli("programs", "activate", "trial")
    assert again.exit_code == 2 and "archived" in again.output
    missing = cli("programs", "versions", "nope")
    assert missing.exit_code == 2 and "does not exist" in missing.output
