"""``loyalty audit``: the audit trail, exported as CSV."""

from __future__ import annotations

from datetime import datetime
from typing import IO

import click
from flask.cli import with_appcontext

from loyalty_plugin.domain.errors import LoyaltyError
from loyalty_plugin.extensions import get_session
from loyalty_plugin.services import audit as svc

_DAY = click.DateTime(["%Y-%m-%d"])


@click.group()
def audit() -> None:
    """Who changed what and when: staff, API keys and this command."""


@audit.command("export")
@click.option("--merchant", "merchant_id", required=True, help="Merchant id.")
@click.option("--actor", help="kind:id (staff:12, api_key:lk_..., cli:root), or part of a name.")
@click.option("--action", help="An action (adjustment.approved), or a thing (adjustment).")
@click.option("--target-type", help="customer, program, api_key, ...")
@click.option("--target-id", help="The target's id (a host customer id, a program key, ...).")
@click.option("--from", "first", type=_DAY, help="First day (the merchant's time zone).")
@click.option("--to", "last", type=_DAY, help="Last day, included.")
@click.option("--output", "-o", type=click.File("w"), default="-", help="File [default: stdout].")
@with_appcontext
def export(
    merchant_id: str,
    actor: str | None,
    action: str | None,
    target_type: str | None,
    target_id: str | None,
    first: datetime | None,
    last: datetime | None,
    output: IO[str],
) -> None:
    """Write the merchant's audit rows as CSV, newest first, read in batches as written."""
    session = get_session()
    try:
        query = svc.query_for_days(
            session,
            merchant_id=merchant_id,
            first=first.date() if first else None,
            last=last.date() if last else None,
            actor=actor,
            action=action,
            target_type=target_type,
            target_id=target_id,
        )
        for line in svc.export_csv(session, merchant_id=merchant_id, query=query):
            output.write(line)
    except LoyaltyError as error:
        raise click.BadParameter(error.message, param_hint=error.field) from None
    finally:
        session.rollback()
