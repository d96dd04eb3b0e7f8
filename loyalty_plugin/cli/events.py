"""``loyalty events``: the inbox of host events, and retrying what failed."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from loyalty_plugin.extensions import loyalty_state
from loyalty_plugin.jobs.webhooks import job_session
from loyalty_plugin.models import InboxStatus, WebhookEvent
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.intake.webhooks import (
    IntakeSettings,
    retry_due,
    retry_event,
    waiting_events,
)

STATUSES = [status.value for status in InboxStatus]


def event_dict(row: WebhookEvent) -> dict[str, object]:
    """An inbox row as ``--json`` shows it (without its body)."""
    return {
        "id": row.id,
        "merchant_id": row.merchant_id,
        "webhook_id": row.webhook_id,
        "type": row.event_type,
        "status": row.status.value,
        "source": row.source,
        "received_at": row.received_at.isoformat(),
        "attempts": row.attempts,
        "next_attempt_at": row.next_attempt_at.isoformat() if row.next_attempt_at else None,
        "waiting_for": row.waiting_for,
        "last_error": row.last_error,
        "result": row.result,
    }


@click.group()
def events() -> None:
    """Inspect host events and retry the ones that failed."""


@events.command("list")
@click.option("--status", type=click.Choice(STATUSES), help="Only events in this status.")
@click.option(
    "--waiting",
    is_flag=True,
    help="Only waiting events, oldest first, with how long they waited; those past the "
    "merchant's waiting_report_hours are marked OVERDUE.",
)
@click.option("--merchant", "merchant_id", help="Only this merchant's events.")
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_appcontext
def list_events(
    status: str | None, waiting: bool, merchant_id: str | None, limit: int, as_json: bool
) -> None:
    """List stored host events, newest first (dead ones: --status dead)."""
    from loyalty_plugin.cli import echo_json

    if waiting:
        _list_waiting(merchant_id, limit, as_json)
        return
    query = select(WebhookEvent).order_by(WebhookEvent.id.desc()).limit(limit)
    if status:
        query = query.where(WebhookEvent.status == InboxStatus(status))
    if merchant_id:
        query = query.where(WebhookEvent.merchant_id == merchant_id)
    rows = [event_dict(row) for row in job_session(current_app).scalars(query)]
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        note = row["waiting_for"] or row["last_error"] or ""
        click.echo(
            f"{row['id']:>8}  {row['status']:<9} {row['type'] or '?':<26} "
            f"{row['merchant_id']:<12} {row['webhook_id']:<32} {note}"
        )


def _list_waiting(merchant_id: str | None, limit: int, as_json: bool) -> None:
    """The waiting events, oldest first, each with its age and whether it is overdue."""
    from loyalty_plugin.cli import echo_json

    session = job_session(current_app)
    rows = [
        event_dict(row) | {"waited_hours": waited.hours, "overdue": waited.overdue}
        for row, waited in waiting_events(
            session, now=utcnow(), merchant_id=merchant_id, limit=limit
        )
    ]
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        flag = "OVERDUE" if row["overdue"] else ""
        click.echo(
            f"{row['id']:>8}  {row['type'] or '?':<26} {row['merchant_id']:<12} "
            f"{row['waiting_for'] or '':<32} {row['waited_hours']:>6}h {flag}".rstrip()
        )
    overdue = sum(1 for row in rows if row["overdue"])
    click.echo(f"{len(rows)} waiting, {overdue} overdue")


@events.command()
@click.argument("event_id", type=int)
@with_appcontext
def show(event_id: int) -> None:
    """Show one stored event: its outcome, headers and raw body."""
    row = job_session(current_app).get(WebhookEvent, event_id)
    if row is None:
        raise click.BadParameter(f"event {event_id} does not exist", param_hint="EVENT_ID")
    click.echo(json.dumps(event_dict(row) | {"headers": row.headers}, indent=2, default=str))
    click.echo(row.body)


@events.command()
@click.argument("event_id", type=int)
@with_appcontext
def retry(event_id: int) -> None:
    """Process a dead, pending or waiting event again, now."""
    status = retry_event(
        job_session(current_app),
        event_id,
        hooks=loyalty_state().plugin_manager.hook,
        settings=IntakeSettings.from_config(current_app.config),
        now=utcnow(),
        force=True,
    )
    if status is None:
        raise click.ClickException(
            f"event {event_id} is not dead, pending or waiting (or does not exist)"
        )
    click.echo(f"event {event_id}: {status}")
    if status in ("dead", "pending"):
        sys.exit(1)


@events.command()
@click.option(
    "--since",
    required=True,
    type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
    help="Received on or after this date (UTC).",
)
@with_appcontext
def replay(since: datetime) -> None:
    """Process again every dead, pending or waiting event received since a date."""
    session = job_session(current_app)
    ids = list(
        session.scalars(
            select(WebhookEvent.id)
            .where(
                WebhookEvent.status.in_(
                    (InboxStatus.DEAD, InboxStatus.PENDING, InboxStatus.WAITING)
                ),
                WebhookEvent.received_at >= since.replace(tzinfo=UTC),
            )
            .order_by(WebhookEvent.id)
        )
    )
    session.rollback()
    counts: dict[str, int] = {}
    for event_id in ids:
        status = retry_event(
            session,
            event_id,
            hooks=loyalty_state().plugin_manager.hook,
            settings=IntakeSettings.from_config(current_app.config),
            now=utcnow(),
            force=True,
        )
        # None: an earlier event of this replay released and processed it already.
        label = status or "processed with another"
        counts[label] = counts.get(label, 0) + 1
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "none"
    click.echo(f"replayed {len(ids)} event(s): {summary}")


@events.command("retry-due")
@with_appcontext
def retry_due_command() -> None:
    """Run the retry job once: due pending events, and rechecks of waiting ones."""
    counts = retry_due(
        job_session(current_app),
        hooks=loyalty_state().plugin_manager.hook,
        settings=IntakeSettings.from_config(current_app.config),
        now=utcnow(),
    )
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "nothing due"
    click.echo(summary)
