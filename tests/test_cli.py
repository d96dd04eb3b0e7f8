"""The `loyalty` command: merchants, the demo, accounts."""

import json

from loyalty_plugin.cli import main


def test_merchants_create_and_list_as_json(app) -> None:
    """Provisioning a merchant prints JSON for scripts; bad input is a usage error."""
    runner = app.test_cli_runner()
    created = runner.invoke(
        main,
        ["merchants", "create", "seller-7", "--name", "Seller 7", "--currency", "usd", "--json"],
    )
    assert created.exit_code == 0, created.output
    assert json.loads(created.output)["currency"] == "USD"
    listed = json.loads(runner.invoke(main, ["merchants", "list", "--json"]).output)
    assert [m["id"] for m in listed] == ["seller-7"]
    again = runner.invoke(main, ["merchants", "create", "seller-7", "--name", "Dup"])
    assert again.exit_code == 2
    assert "already exists" in again.output
    bad = runner.invoke(main, ["merchants", "create", "x", "--name", "X", "--currency", "EURO"])
    assert (bad.exit_code, "ISO 4217" in bad.output) == (2, True)


def test_demo_builds_a_verifiable_history_once(app) -> None:
    """The demo merchant's history verifies clean, and running demo twice changes nothing."""
    runner = app.test_cli_runner()
    first = runner.invoke(main, ["demo", "--customers", "5"])
    assert first.exit_code == 0, first.output
    assert "loyalty accounts show --merchant demo 1001" in first.output
    assert 'put "merchant_id": "demo" in every webhook event' in first.output
    shown = runner.invoke(main, ["accounts", "show", "--merchant", "demo", "1001"])
    assert shown.exit_code == 0
    assert "earn" in shown.output
    second = runner.invoke(main, ["demo"])
    assert "already exists" in second.output
    assert runner.invoke(main, ["ledger", "verify"]).exit_code == 0
    level = runner.invoke(main, ["levels", "show", "1001", "--merchant", "demo"])
    assert level.exit_code == 0, level.output
    assert "in program points" in level.output


def test_accounts_show_unknown_customer_is_a_clear_error(app) -> None:
    """An unknown merchant or customer is a usage error naming it, not a traceback."""
    result = app.test_cli_runner().invoke(main, ["accounts", "show", "--merchant", "x", "1"])
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_commands_before_migration_explain_what_to_do(tmp_path) -> None:
    """On an empty database a command says to run `loyalty db upgrade`, with no traceback."""
    from loyalty_plugin import create_app

    app = create_app(
        {"LOYALTY_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}", "LOYALTY_SECRET_KEY": "x"}
    )
    result = app.test_cli_runner().invoke(main, ["merchants", "list"])
    assert result.exit_code == 1
    assert "loyalty db upgrade" in result.output
    assert "Traceback" not in result.output


def test_the_demo_program_earns_on_events_dated_before_the_demo_ran(app) -> None:
    """The docs' example events are dated earlier than the day ``loyalty demo`` runs: the
    demo program starts with the demo's history, so they earn."""
    from datetime import timedelta

    from loyalty_plugin.extensions import get_session
    from loyalty_plugin.models.base import utcnow
    from loyalty_plugin.services.intake.webhooks import IntakeSettings, process_host_event

    runner = app.test_cli_runner()
    assert runner.invoke(main, ["demo", "--customers", "1"]).exit_code == 0
    earlier = utcnow() - timedelta(days=300)
    paid = {
        "type": "invoice.paid",
        "occurred_at": earlier.isoformat(),
        "merchant_id": "demo",
        "data": {"invoice": {"id": "1001", "customer_id": "1001", "currency": "EUR",
                             "total": "129.90"}},
    }  # fmt: skip
    with app.app_context():
        answer = process_host_event(
            get_session(),
            paid,
            event_id="docs-1",
            hooks=app.extensions["loyalty"].plugin_manager.hook,
            settings=IntakeSettings(),
            now=utcnow(),
        )
    assert answer.status == 200, answer.body
    assert answer.body["result"]["points_earned"] >= 12, answer.body
