"""Passing failures: kept, answered 202, retried with backoff, dead-lettered, replayed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text

from loyalty_plugin import hookimpl
from loyalty_plugin.cli.events import events
from loyalty_plugin.models import WebhookEvent
from loyalty_plugin.services.intake.webhooks import backoff
from loyalty_plugin.services.ledger.integrity import verify_ledger
from tests.webhooks.conftest import customer, event, invoice, ledger_points, stored

PAID = event("invoice.paid", {"invoice": invoice(customer=customer())})


class FlakyDatabase:
    """A plugin whose database work fails (a missing table) until ``fixed``."""

    fixed = False

    @hookimpl
    def host_event_received(self, session, event):
        if not self.fixed:
            session.execute(text("SELECT * FROM table_that_is_not_there"))


@pytest.fixture
def flaky(host):
    plugin = FlakyDatabase()
    host.extensions["loyalty"].plugin_manager.register(plugin)
    host.config["LOYALTY_WEBHOOK_MAX_ATTEMPTS"] = 3
    return plugin


def inbox_row(app, webhook_id: str = "msg_1") -> WebhookEvent:
    with app.app_context():
        session = app.extensions["loyalty"].db.session
        return session.scalars(
            select(WebhookEvent).where(WebhookEvent.webhook_id == webhook_id)
        ).one()


def run_events(app, *args: str):
    return app.test_cli_runner().invoke(events, list(args))


def test_backoff_doubles_up_to_six_hours() -> None:
    """30 s, 60 s, 120 s... and never more than 6 h between tries."""
    base = timedelta(seconds=30)
    assert [backoff(n, base).total_seconds() for n in (1, 2, 3)] == [30, 60, 120]
    assert backoff(40, base) == timedelta(hours=6)


def test_a_database_failure_is_kept_and_answered_202(post, host, flaky) -> None:
    """The event is stored pending with its error and retry time; nothing is half-done."""
    response = post(PAID)
    assert response.status_code == 202
    assert response.get_json()["event_status"] == "pending"
    row = inbox_row(host)
    assert row.attempts == 1 and "table_that_is_not_there" in row.last_error
    assert row.next_attempt_at is not None
    assert ledger_points(host) == []
    again = post(PAID)
    assert again.get_json()["status"] == "duplicate" and ledger_points(host) == []


def test_the_retry_job_processes_it_once_the_cause_is_gone(post, host, flaky) -> None:
    """Not before its time; then processed with its effects, exactly once."""
    post(PAID)
    flaky.fixed = True
    assert run_events(host, "retry-due").output.strip() == "nothing due"
    with host.app_context():
        session = host.extensions["loyalty"].db.session
        row = session.get(WebhookEvent, inbox_row(host).id)
        row.next_attempt_at = row.received_at - timedelta(seconds=1)
        session.commit()
    assert run_events(host, "retry-due").output.strip() == "1 processed"
    assert ledger_points(host) == [("earn", 50), ("earn", 12)]
    assert stored(host) == [("msg_1", "processed", "invoice.paid")]


def test_after_the_limit_it_is_dead_and_an_operator_retries_it(post, host, flaky) -> None:
    """Three failed attempts make it dead; ``loyalty events retry ID`` runs it again."""
    post(PAID)
    from loyalty_plugin.services.intake.webhooks import IntakeSettings, retry_event

    settings = IntakeSettings.from_config(host.config)
    with host.app_context():
        session = host.extensions["loyalty"].db.session
        hooks = host.extensions["loyalty"].plugin_manager.hook
        row_id = inbox_row(host).id
        later = inbox_row(host).next_attempt_at + timedelta(hours=7)
        assert retry_event(session, row_id, hooks=hooks, settings=settings, now=later) == "pending"
        later += timedelta(hours=7)
        assert retry_event(session, row_id, hooks=hooks, settings=settings, now=later) == "dead"
    listed = run_events(host, "list", "--status", "dead")
    assert "msg_1" in listed.output
    failed = run_events(host, "retry", str(row_id))
    assert failed.exit_code == 1 and "dead" in failed.output
    flaky.fixed = True
    result = run_events(host, "retry", str(row_id))
    assert result.exit_code == 0 and "processed" in result.output
    assert ledger_points(host) == [("earn", 50), ("earn", 12)]
    assert run_events(host, "retry", str(row_id)).exit_code == 1


def test_replay_since_a_date_runs_every_dead_and_pending_event(post, host, flaky) -> None:
    """``loyalty events replay --since`` processes what failed, each exactly once."""
    post(PAID, msg_id="msg_a")
    post(event("invoice.paid", {"invoice": invoice("INV-2", customer=customer())}), msg_id="msg_b")
    flaky.fixed = True
    result = run_events(host, "replay", "--since", "2000-01-01")
    assert result.exit_code == 0 and "replayed 2 event(s): 2 processed" in result.output
    assert ledger_points(host) == [("earn", 50), ("earn", 12), ("earn", 12)]
    with host.app_context():
        assert verify_ledger(host.extensions["loyalty"].db.session) == []


def test_show_prints_the_raw_body(post, host) -> None:
    """``loyalty events show ID`` prints the stored headers and body as received."""
    post(PAID)
    output = run_events(host, "show", str(inbox_row(host).id)).output
    assert '"webhook-signature"' in output and '"invoice.paid"' in output
