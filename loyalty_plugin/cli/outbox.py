"""``loyalty outbox``: outgoing webhooks, their attempts, and delivering them now."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from loyalty_plugin.domain.errors import LoyaltyError
from loyalty_plugin.jobs.webhooks import deliver_outbox, job_session
from loyalty_plugin.models import OutboxMessage, OutboxStatus
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.messaging.outbox import retry_message
from loyalty_plugin.services.transaction import run_in_transaction


@click.group()
def outbox() -> None:
    """Outgoing webhooks to the host."""


@outbox.command("list")
@click.option("--status", type=click.Choice([s.value for s in OutboxStatus]))
@click.option("--limit", default=50, show_default=True)
@with_appcontext
def list_messages(status: str | None, limit: int) -> None:
    """List outgoing messages, newest first."""
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if status:
        query = query.where(OutboxMessage.status == OutboxStatus(status))
    for row in job_session(current_app).scalars(query):
        click.echo(
            f"{row.id:>8}  {row.status.value:<9} {row.event_type:<16} {row.merchant_id:<12} "
            f"{row.message_id}  attempts {row.attempts}  {row.last_error or ''}"
        )


@outbox.command()
@with_appcontext
def deliver() -> None:
    """Run the delivery job once: post every due message."""
    counts = deliver_outbox(current_app._get_current_object())
    click.echo(", ".join(f"{n} {outcome}" for outcome, n in counts.items()))


@outbox.command()
@click.argument("message_id", type=int)
@with_appcontext
def retry(message_id: int) -> None:
    """Queue a dead message to be posted again by the next delivery."""
    try:
        row = run_in_transaction(
            job_session(current_app),
            lambda s: retry_message(s, message_id=message_id, now=utcnow()),
        )
    except LoyaltyError as error:
        raise click.BadParameter(error.message, param_hint="MESSAGE_ID") from None
    click.echo(f"message {row.id}: {row.status.value}")
