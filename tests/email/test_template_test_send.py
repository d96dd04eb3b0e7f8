"""``loyalty emails test``: the same ``send_test_email`` as the admin page, to aiosmtpd."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty_plugin.cli import main
from loyalty_plugin.models import AuditEntry, Merchant
from tests.email.conftest import Inbox


def test_the_cli_sends_a_test_through_the_smtp_server(
    mail_app: Flask, db: Session, shop: Merchant, inbox: Inbox
) -> None:
    runner = mail_app.test_cli_runner()
    args = ["emails", "test", "points_expiring", "--merchant", "shop"]
    refused = runner.invoke(main, [*args, "--to", "nobody"])
    assert refused.exit_code == 2 and "not an e-mail address" in refused.output
    assert inbox.messages == []
    result = runner.invoke(main, [*args, "--to", "qa@example.com"])
    assert result.exit_code == 0, result.output
    (message,) = inbox.messages
    assert message["Subject"] == "[Test] Your 500 points with Café Lumière expire on April 30, 2026"
    assert message["From"].addresses[0].addr_spec == "rewards@shop.example"
    db.expire_all()
    (entry,) = db.scalars(select(AuditEntry).where(AuditEntry.action == "email_template.test_sent"))
    assert entry.after["to"] == "qa@example.com" and entry.actor_kind == "cli"
