"""Changes made from the ``loyalty`` command and by services are in the audit trail."""

from __future__ import annotations

import csv
import getpass
import io
import json
from pathlib import Path

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from loyalty_plugin.cli import main
from loyalty_plugin.models import AuditEntry, Customer, Merchant
from loyalty_plugin.services.audit import Actor
from loyalty_plugin.services.messaging.notifications import set_consent, unsubscribe

ME = ("cli", getpass.getuser())


def audited(engine: sa.Engine, action: str) -> list[AuditEntry]:
    """The audit rows of ``action``, oldest first."""
    with Session(engine) as session:
        query = sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        return list(session.scalars(query))


def cli(app: Flask, *args: str) -> str:
    result = app.test_cli_runner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_api_keys_made_and_revoked_from_the_command_are_audited(app, engine) -> None:
    """``keys create`` and ``keys revoke``: rows under the user running them, never the secret."""
    cli(app, "merchants", "create", "shop", "--name", "Shop")
    made = json.loads(
        cli(app, "keys", "create", "--merchant", "shop", "--scope", "admin", "--json")
    )
    [created] = audited(engine, "api_key.created")
    assert (created.actor_kind, created.actor_id) == ME
    assert (created.target_type, created.target_id) == ("api_key", made["prefix"])
    assert created.after["scope"] == "admin" and made["key"] not in json.dumps(created.after)
    cli(app, "keys", "revoke", made["prefix"])
    cli(app, "keys", "revoke", made["prefix"])
    [revoked] = audited(engine, "api_key.revoked")
    assert (revoked.before["revoked_at"], revoked.after["revoked_at"] is not None) == (None, True)


def test_webhook_secrets_made_and_revoked_from_the_command_are_audited(app, engine) -> None:
    """``secrets create`` and ``secrets revoke``: by id and label, never the secret itself."""
    cli(app, "merchants", "create", "shop", "--name", "Shop")
    made = json.loads(
        cli(app, "secrets", "create", "--merchant", "shop", "--label", "crm", "--json")
    )
    [created] = audited(engine, "webhook_secret.created")
    assert (created.actor_kind, created.actor_id) == ME
    assert created.after == {"id": made["id"], "label": "crm", "revoked_at": None}
    assert made["secret"] not in json.dumps(created.after)
    cli(app, "secrets", "revoke", str(made["id"]))
    [revoked] = audited(engine, "webhook_secret.revoked")
    assert revoked.target_id == str(made["id"]) and revoked.after["revoked_at"] is not None


def test_expiry_policy_and_email_settings_from_the_command_are_audited(app, engine) -> None:
    """``expiry set`` and ``emails settings``: the policy and the switches before and after."""
    cli(app, "merchants", "create", "shop", "--name", "Shop")
    cli(app, "expiry", "set", "--merchant", "shop", "--kind", "days_after_earning", "--days", "90")
    [policy] = audited(engine, "expiry_policy.updated")
    assert (policy.actor_kind, policy.actor_id) == ME
    assert (policy.before["kind"], policy.after["kind"]) == ("never", "days_after_earning")
    assert (policy.before["days"], policy.after["days"]) == (None, 90)
    cli(app, "emails", "settings", "--merchant", "shop", "--off", "points_earned")
    [emails] = audited(engine, "notifications.updated")
    assert (emails.before["disabled"], emails.after["disabled"]) == ([], ["points_earned"])


def test_config_import_is_audited_as_a_whole_and_by_section(app, engine, tmp_path: Path) -> None:
    """An import: one ``config.imported`` row with each changed path, plus each service's row."""
    cli(app, "merchants", "create", "shop", "--name", "Shop")
    document = json.loads(cli(app, "config", "export", "--merchant", "shop"))
    document["settings"]["conversion_amount"] = "2.00"
    path = tmp_path / "config.json"
    path.write_text(json.dumps(document))
    cli(app, "config", "import", str(path), "--merchant", "shop")
    [imported] = audited(engine, "config.imported")
    assert (imported.actor_kind, imported.actor_id) == ME
    assert (imported.before, imported.after) == (
        {"settings.conversion_amount": "1.00"},
        {"settings.conversion_amount": "2.00"},
    )
    [section] = audited(engine, "settings.updated")
    assert section.after["conversion_amount"] == "2.00"
    cli(app, "config", "import", str(path), "--merchant", "shop")  # the same again: no change
    cli(app, "config", "diff", str(path), "--merchant", "shop")
    assert len(audited(engine, "config.imported")) == 1


def test_a_refused_import_leaves_no_audit_row(app, engine, tmp_path: Path) -> None:
    """The settings section's row rolls back with the import a later template refused."""
    cli(app, "merchants", "create", "shop", "--name", "Shop")
    document = json.loads(cli(app, "config", "export", "--merchant", "shop"))
    document["settings"]["conversion_amount"] = "9.00"
    document["emails"]["templates"] = {
        "welcome": {"subject": "Hi", "body_text": "{{ customer.__class__ }}", "body_html": "x"}
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(document))
    refused = app.test_cli_runner().invoke(
        main, ["config", "import", str(path), "--merchant", "shop"]
    )
    assert refused.exit_code == 1
    assert audited(engine, "settings.updated") == audited(engine, "config.imported") == []


def test_consent_changes_are_audited(session: Session, now) -> None:
    """Staff set a consent; the customer unsubscribes: both rows on the customer."""
    session.add(Merchant(id="shop", name="Shop", currency="EUR"))
    session.flush()
    ana = Customer(merchant_id="shop", host_customer_id="c7", first_name="Ana", email_opt_in=False)
    session.add(ana)
    session.flush()
    staff = Actor.staff(3, "Bea")
    set_consent(
        session, merchant_id="shop", customer_id="c7", email_opt_in=True, actor=staff, now=now
    )
    set_consent(
        session, merchant_id="shop", customer_id="c7", email_opt_in=True, actor=staff, now=now
    )
    unsubscribe(session, merchant_id="shop", customer_id=ana.id, now=now)
    session.commit()
    rows = audited(session.get_bind(), "consent.changed")
    assert [(r.actor_kind, r.actor_name, r.target_id) for r in rows] == [
        ("staff", "Bea", "c7"),
        ("customer", "Ana", "c7"),
    ]
    assert [(r.before["email_opt_in"], r.after["email_opt_in"]) for r in rows] == [
        (False, True),
        (True, False),
    ]
    assert rows[0].after["sms_opt_in"] is False


def test_audit_export_writes_the_search_as_csv(app, tmp_path: Path) -> None:
    """``loyalty audit export`` with filters: the matching rows, newest first, in a file."""
    cli(app, "merchants", "create", "shop", "--name", "Shop")
    first = json.loads(
        cli(app, "keys", "create", "--merchant", "shop", "--scope", "read", "--json")
    )
    second = json.loads(
        cli(app, "keys", "create", "--merchant", "shop", "--scope", "admin", "--json")
    )
    out = tmp_path / "audit.csv"
    cli(app, "audit", "export", "--merchant", "shop", "--action", "api_key", "-o", str(out))
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [(r["action"], r["target_id"]) for r in rows] == [
        ("api_key.created", second["prefix"]),
        ("api_key.created", first["prefix"]),
    ]
    today = rows[0]["occurred_at"][:10]
    printed = cli(app, "audit", "export", "--merchant", "shop", "--from", today, "--to", today)
    assert printed.count("api_key.created") == 2 and "program.created" in printed
    refused = app.test_cli_runner().invoke(
        main, ["audit", "export", "--merchant", "shop", "--from", today, "--to", "2000-01-01"]
    )
    assert refused.exit_code == 2 and "the last day comes before the first" in refused.output


def test_templates_endpoints_and_rates_from_the_command_are_audited(app, engine) -> None:
    """``emails save|reset``, ``endpoints set`` and ``rates set``: each a row by the user."""
    cli(app, "merchants", "create", "shop", "--name", "Shop")
    cli(app, "emails", "save", "welcome", "--merchant", "shop", "--subject", "Hello there")
    [saved] = audited(engine, "email_template.saved")
    assert (saved.actor_kind, saved.actor_id) == ME and saved.target_id == "welcome"
    assert saved.before is None and saved.after["subject"] == "Hello there"
    cli(app, "emails", "reset", "welcome", "--merchant", "shop")
    cli(app, "emails", "reset", "welcome", "--merchant", "shop")  # nothing left to drop
    [reset] = audited(engine, "email_template.reset")
    assert reset.before["subject"] == "Hello there" and reset.after is None
    cli(app, "endpoints", "set", "--merchant", "shop", "--url", "https://crm.example/hooks")
    cli(app, "endpoints", "set", "--merchant", "shop", "--url", "https://crm.example/hooks")
    [endpoint] = audited(engine, "webhook_endpoint.updated")
    assert (endpoint.before, endpoint.after) == (
        None,
        {"url": "https://crm.example/hooks", "enabled": True, "event_types": None},
    )
    cli(app, "rates", "set", "USD", "0.92", "--merchant", "shop")
    [rate] = audited(engine, "exchange_rate.set")
    assert (rate.actor_kind, rate.target_id, rate.after["rate"]) == ("cli", "USD", "0.92")
