"""The ``loyalty jobs``, ``loyalty expiry`` and ``loyalty emails`` commands."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from loyalty_plugin.cli import main
from loyalty_plugin.models import Account, Customer, Merchant
from loyalty_plugin.services.ledger import entries as ledger


def make_customer(engine, *, points: int, expires_at: datetime, now: datetime) -> int:
    with Session(engine) as session:
        session.add(Merchant(id="shop", name="Shop", currency="EUR"))
        session.flush()
        customer = Customer(merchant_id="shop", host_customer_id="1", first_name="Ana")
        session.add(customer)
        session.flush()
        account = Account(merchant_id="shop", customer_id=customer.id)
        session.add(account)
        session.flush()
        ledger.earn(
            session, account_id=account.id, points=points, now=now, actor="t", expires_at=expires_at
        )
        session.commit()
        return account.id


def test_jobs_list_run_and_history(job_app, engine) -> None:
    """Every job is listed with its schedule; a run shows up as the last result."""
    cli = job_app.test_cli_runner()
    earned = datetime(2026, 1, 1, tzinfo=UTC)
    account_id = make_customer(
        engine, points=50, expires_at=earned + timedelta(days=10), now=earned
    )
    listed = json.loads(cli.invoke(main, ["jobs", "list", "--json"]).output)
    by_name = {row["name"]: row for row in listed}
    assert by_name["expire-points"]["schedule"] == "every 1h (+5m)"
    assert by_name["birthday-greetings"]["schedule"] == "daily at 07:00 UTC"
    assert by_name["send-emails"]["schedule"] == "every 30s"
    assert {"deliver-webhooks", "retry-host-events", "expiry-reminders"} <= set(by_name)
    assert by_name["expire-points"]["last_status"] is None

    ran = cli.invoke(main, ["jobs", "run", "expire-points", "--at", "2026-02-01"])
    assert ran.exit_code == 0, ran.output
    assert "expire-points succeeded: 1 rows" in ran.output
    with Session(engine) as session:
        assert session.get(Account, account_id).balance == 0

    listed = json.loads(cli.invoke(main, ["jobs", "list", "--json"]).output)
    last = {row["name"]: row for row in listed}["expire-points"]
    assert (last["last_status"], last["last_rows"]) == ("succeeded", 1)
    assert last["last_seconds"] >= 0
    history = json.loads(cli.invoke(main, ["jobs", "history", "--json"]).output)
    assert [(h["job"], h["trigger"], h["status"]) for h in history] == [
        ("expire-points", "manual", "succeeded")
    ]
    table = cli.invoke(main, ["jobs", "list"]).output
    assert "expire-points" in table and "succeeded" in table
    unknown = cli.invoke(main, ["jobs", "run", "nope"])
    assert unknown.exit_code == 2 and "known jobs" in unknown.output


def test_expiry_policy_from_the_command_line(job_app, engine) -> None:
    """``loyalty expiry set`` stores a policy that ``show`` prints back; nonsense is refused."""
    with Session(engine) as session:
        session.add(Merchant(id="shop", name="Shop", currency="EUR"))
        session.commit()
    cli = job_app.test_cli_runner()
    done = cli.invoke(
        main,
        [
            *("expiry", "set", "--merchant", "shop", "--kind", "days_after_earning"),
            *("--days", "365", "--inactivity-months", "18", "--reminders", "7,30,60"),
        ],
    )
    assert done.exit_code == 0, done.output
    shown = cli.invoke(main, ["expiry", "show", "--merchant", "shop"]).output
    assert shown.splitlines() == [
        "expiry: days_after_earning (365 days)",
        "inactivity expiry: after 18 months",
        "reminders: 60, 30, 7 days before",
    ]
    bad = cli.invoke(main, ["expiry", "set", "--merchant", "shop", "--kind", "days_after_earning"])
    assert bad.exit_code == 2 and "at least 1 day" in bad.output


def test_email_templates_from_the_command_line(job_app, engine, tmp_path) -> None:
    """Preview, a refused edit (with its line), a saved edit and a reset, by command."""
    with Session(engine) as session:
        session.add(Merchant(id="shop", name="Café Lumière", currency="EUR"))
        session.commit()
    cli = job_app.test_cli_runner()
    preview = cli.invoke(main, ["emails", "preview", "points_expiring", "--merchant", "shop"])
    assert preview.output.startswith(
        "Subject: Your 500 points with Café Lumière expire on April 30, 2026\n\nHi Ana,"
    )
    bad = tmp_path / "bad.txt"
    bad.write_text("Hello {{ customer.name }}\n{{ customer.__class__ }}\n")
    refused = cli.invoke(
        main, ["emails", "save", "points_expiring", "--merchant", "shop", "--text", str(bad)]
    )
    assert refused.exit_code == 2
    assert "body text, line 2: access to '__class__' is not allowed" in refused.output
    saved = cli.invoke(
        main,
        [
            *("emails", "save", "points_expiring", "--merchant", "shop"),
            *("--subject", "{{ points }} points left {{ days_left }} days"),
        ],
    )
    assert saved.exit_code == 0, saved.output
    preview = cli.invoke(main, ["emails", "preview", "points_expiring", "--merchant", "shop"])
    assert preview.output.startswith("Subject: 500 points left 30 days\n")
    reset = cli.invoke(main, ["emails", "reset", "points_expiring", "--merchant", "shop"])
    assert reset.output.strip() == "points_expiring reset to the default"
    settings = cli.invoke(
        main, ["emails", "settings", "--merchant", "shop", "--off", "birthday", "--locale", "de_DE"]
    )
    assert "birthday           off" in settings.output and "locale: de_DE" in settings.output
    german = cli.invoke(main, ["emails", "preview", "points_expiring", "--merchant", "shop"])
    assert "30. April 2026" in german.output
