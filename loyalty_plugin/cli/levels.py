"""``loyalty levels``: a customer's membership level, its history, and levels given by staff."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from flask.cli import with_appcontext
from sqlalchemy.orm import Session

from loyalty_plugin.cli.actor import cli_actor
from loyalty_plugin.domain.errors import LoyaltyError
from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import Membership
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.ledger.accounts import account_for_host_customer
from loyalty_plugin.services.levels import memberships as levels
from loyalty_plugin.services.transaction import run_in_transaction


@click.group("levels")
def levels_group() -> None:
    """Show and give membership levels."""


@levels_group.command()
@click.argument("customer_id")
@click.option("--merchant", "merchant_id", required=True, help="Merchant id.")
@with_appcontext
def show(customer_id: str, merchant_id: str) -> None:
    """CUSTOMER_ID's level, the next one, what is missing, and the level history."""
    session = get_session()
    now = utcnow()
    try:
        account = account_for_host_customer(session, merchant_id, customer_id)
    except LoyaltyError as error:
        raise click.BadParameter(error.message, param_hint=error.field) from None
    found = levels.summary(session, merchant_id=merchant_id, account_id=account.id, now=now)
    if found is None:
        click.echo(f"{merchant_id} has no program with levels")
    else:
        ahead = f", {found['needed']} more for {found['next_level']}" if found["next_level"] else ""
        ends = found["expires_at"] or found["review_at"]
        click.echo(
            f"{found['name']} ({found['source']}) in program {found['program']}: "
            f"{found['qualifying_amount']} {found['measure']}{ahead}"
            + (f"; ends or reviewed {ends:%Y-%m-%d}" if ends else "")
        )
    for row in levels.history(session, account_id=account.id):
        click.echo(
            f"{row.at:%Y-%m-%d %H:%M}  {row.from_level or '-'} -> {row.to_level}  "
            f"{row.reason} ({row.actor})"
        )
    session.rollback()


@levels_group.command()
@click.argument("customer_id")
@click.option("--merchant", "merchant_id", required=True, help="Merchant id.")
@click.option("--level", required=True, help="Key of the level to give.")
@click.option("--until", required=True, type=click.DateTime(["%Y-%m-%d"]), help="End date (UTC).")
@click.option("--reason", required=True, help="Why (kept in the level history).")
@click.option("--by", "actor", default=None, help="Who gives it [default: your user name].")
@click.option("--program", default=None, help="Program key (default: the first with levels).")
@with_appcontext
def give(
    customer_id: str,
    merchant_id: str,
    level: str,
    until: datetime,
    reason: str,
    actor: str | None,
    program: str | None,
) -> None:
    """Give CUSTOMER_ID a level until a date; afterwards they fall back to their earned one."""

    def work(session: Session) -> Membership:
        account = account_for_host_customer(session, merchant_id, customer_id)
        return levels.give_level(
            session,
            merchant_id=merchant_id,
            account_id=account.id,
            level=level,
            until=until.replace(tzinfo=UTC),
            reason=reason,
            program_key=program,
            now=utcnow(),
            actor=cli_actor(actor),
        )

    try:
        membership = run_in_transaction(get_session(), work)
    except LoyaltyError as error:
        raise click.BadParameter(error.message, param_hint=error.field) from None
    click.echo(f"{customer_id} is {membership.level} until {membership.expires_at:%Y-%m-%d}")
