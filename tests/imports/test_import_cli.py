"""``loyalty customers import`` and ``loyalty balances import``, as the docs show them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from loyalty_plugin.cli import main
from loyalty_plugin.models import Merchant
from tests.imports.examples import example


@pytest.fixture
def cli(app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A runner in a folder holding the documented files, with the ``shop`` merchant."""
    with app.app_context():
        session = app.extensions["loyalty"].db.session
        session.add(Merchant(id="shop", name="Shop", currency="EUR"))
        session.commit()
    for name in ("customers.csv", "customers-bad.csv", "balances.csv"):
        (tmp_path / name).write_text(example(name), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(main, list(args))


def test_the_documented_session_prints_what_the_docs_print(cli: Any) -> None:
    """Every ``$ loyalty ...`` line of the example gives the lines printed under it."""
    session = example("customers-import.console").splitlines()
    commands = [i for i, line in enumerate(session) if line.startswith("$ loyalty ")]
    for start, end in zip(commands, [*commands[1:], len(session)], strict=True):
        result = cli(*session[start].split()[2:])
        assert result.exit_code == 0, result.output
        assert result.output.splitlines() == session[start + 1 : end]


def test_bad_rows_are_printed_by_line_and_the_exit_status_is_1(cli: Any) -> None:
    """A dry run with mistakes lists them, imports nothing and exits 1."""
    result = cli("customers", "import", "customers-bad.csv", "--merchant", "shop", "--dry-run")
    assert result.exit_code == 1
    assert "line 2: email: 'dana.example.com' is not an e-mail address" in result.output
    assert result.output.splitlines()[-1].startswith("dry run, nothing imported: rows 2,")
    listed = cli("customers", "import", "customers-bad.csv", "--merchant", "shop", "--json")
    assert json.loads(listed.stdout)["created"] == 0


def test_balances_import_once_and_json(cli: Any) -> None:
    """The documented balances file answers the documented report with ``--json``."""
    cli("customers", "import", "customers.csv", "--merchant", "shop")
    result = cli("balances", "import", "balances.csv", "--merchant", "shop", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == json.loads(example("balances-import.json"))
    again = cli("balances", "import", "balances.csv", "--merchant", "shop")
    assert "already imported 2" in again.output
    assert "ledger OK" in cli("ledger", "verify").output


def test_an_unknown_merchant_is_a_usage_error_naming_it(cli: Any) -> None:
    """Exit status 2 with the field, as every other command."""
    result = cli("customers", "import", "customers.csv", "--merchant", "nobody")
    assert result.exit_code == 2
    assert "merchant_id" in result.output and "'nobody' does not exist" in result.output
