"""``loyalty secrets`` and ``loyalty endpoints``: what connects a host to a merchant."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty_plugin.cli.actor import cli_actor
from loyalty_plugin.domain.errors import LoyaltyError
from loyalty_plugin.jobs.webhooks import job_session
from loyalty_plugin.models import WebhookEndpoint
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.merchants.secrets import (
    create_secret,
    list_secrets,
    revoke_secret,
    rotate_secret,
)
from loyalty_plugin.services.messaging.outbox import (
    KEEP,
    OUTGOING_TYPES,
    OutboxSettings,
    ping_endpoint,
    set_endpoint,
)
from loyalty_plugin.services.transaction import run_in_transaction

T = TypeVar("T")


def _run(work: Callable[[Session], T]) -> T:
    """Run a unit of work and commit; a domain error becomes a usage error."""
    try:
        return run_in_transaction(job_session(current_app), work)
    except LoyaltyError as error:
        raise click.BadParameter(error.message, param_hint=error.field) from None


@click.group()
def secrets() -> None:
    """Webhook signing secrets (several may be active, so a host can rotate)."""


@secrets.command("create")
@click.option("--merchant", "merchant_id", required=True, help="Merchant id.")
@click.option("--label", help="A note to tell secrets apart.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_appcontext
def create(merchant_id: str, label: str | None, as_json: bool) -> None:
    """Create a new signing secret and print it (it is shown in full only here)."""
    from loyalty_plugin.cli import echo_json

    row = _run(
        lambda s: create_secret(
            s, merchant_id=merchant_id, label=label, now=utcnow(), actor=cli_actor()
        )
    )
    if as_json:
        echo_json({"id": row.id, "merchant_id": merchant_id, "secret": row.secret})
    else:
        click.echo(row.secret)


@secrets.command("rotate")
@click.option("--merchant", "merchant_id", required=True, help="Merchant id.")
@click.option(
    "--overlap-days",
    type=click.IntRange(min=1, max=90),
    default=7,
    show_default=True,
    help="How long the old secrets keep working beside the new one.",
)
@click.option("--label", help="A note to tell secrets apart.")
@with_appcontext
def rotate(merchant_id: str, overlap_days: int, label: str | None) -> None:
    """Create a new secret and print it; the old ones stop working after the overlap."""
    now = utcnow()
    row = _run(
        lambda s: rotate_secret(
            s,
            merchant_id=merchant_id,
            overlap_until=now + timedelta(days=overlap_days),
            now=now,
            label=label,
            actor=cli_actor(),
        )
    )
    click.echo(row.secret)


@secrets.command("list")
@click.option("--merchant", "merchant_id", help="Only this merchant's secrets.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_appcontext
def list_command(merchant_id: str | None, as_json: bool) -> None:
    """List secrets (shortened), active and revoked."""
    from loyalty_plugin.cli import echo_json

    rows = [
        {
            "id": row.id,
            "merchant_id": row.merchant_id,
            "secret": row.hint,
            "label": row.label,
            "created_at": row.created_at.isoformat(),
            "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
        }
        for row in list_secrets(job_session(current_app), merchant_id)
    ]
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        state = f"revoked {row['revoked_at'][:10]}" if row["revoked_at"] else "active"
        click.echo(
            f"{row['id']:>5}  {row['merchant_id']:<16} {row['secret']:<14} {state:<18} "
            f"{row['label'] or ''}"
        )


@secrets.command()
@click.argument("secret_id", type=int)
@with_appcontext
def revoke(secret_id: int) -> None:
    """Revoke secret SECRET_ID: it neither verifies nor signs any more."""
    row = _run(lambda s: revoke_secret(s, secret_id=secret_id, now=utcnow(), actor=cli_actor()))
    click.echo(f"revoked secret {row.id} of {row.merchant_id}")


@click.group()
def endpoints() -> None:
    """Where each merchant's host receives outgoing webhooks."""


@endpoints.command("set")
@click.option("--merchant", "merchant_id", required=True, help="Merchant id.")
@click.option("--url", required=True, help="The host's webhook URL.")
@click.option("--disable", is_flag=True, help="Keep the URL but send nothing.")
@click.option(
    "--event",
    "events",
    multiple=True,
    type=click.Choice(sorted(OUTGOING_TYPES | {"all"})),
    help="An event type to send (repeat it); 'all' for every type. Left out: unchanged.",
)
@with_appcontext
def set_command(merchant_id: str, url: str, disable: bool, events: tuple[str, ...]) -> None:
    """Set the URL outgoing webhooks of a merchant are posted to, and which events go."""
    chosen = KEEP if not events else None if "all" in events else list(events)
    endpoint = _run(
        lambda s: set_endpoint(
            s,
            merchant_id=merchant_id,
            url=url,
            now=utcnow(),
            enabled=not disable,
            actor=cli_actor(),
            event_types=chosen,
        )
    )
    state = "enabled" if endpoint.enabled else "disabled"
    types = ", ".join(endpoint.event_types) if endpoint.event_types else "every event"
    click.echo(f"{merchant_id}: webhooks go to {endpoint.url} ({state}; {types})")


@endpoints.command("ping")
@click.option("--merchant", "merchant_id", required=True, help="Merchant id.")
@with_appcontext
def ping_command(merchant_id: str) -> None:
    """Post a signed test ping to the merchant's endpoint and say how it answered."""
    settings = OutboxSettings.from_config(current_app.config)
    result = _run(
        lambda s: ping_endpoint(
            s, merchant_id=merchant_id, now=utcnow(), settings=settings, actor=cli_actor()
        )
    )
    answer = f"HTTP {result.status_code}" if result.status_code is not None else "no answer"
    took = f"{result.duration_ms} ms (webhook-id {result.message_id})"
    click.echo(f"{result.url}: {answer} in {took}")
    if not result.ok:
        click.echo(f"failed: {result.error}", err=True)
        raise SystemExit(1)


@endpoints.command("list")
@with_appcontext
def list_endpoints() -> None:
    """List every merchant's endpoint."""
    for row in job_session(current_app).scalars(
        select(WebhookEndpoint).order_by(WebhookEndpoint.merchant_id)
    ):
        types = ",".join(row.event_types) if row.event_types else "all"
        state = "enabled" if row.enabled else "disabled"
        click.echo(f"{row.merchant_id:<16} {state:<9} {row.url}  events: {types}")
