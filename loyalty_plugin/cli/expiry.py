"""``loyalty expiry``: a merchant's expiry policy and reminder offsets."""

from __future__ import annotations

from datetime import datetime

import click
from flask.cli import with_appcontext

from loyalty_plugin.cli.actor import cli_actor
from loyalty_plugin.domain.errors import LoyaltyError
from loyalty_plugin.domain.expiry import ExpiryKind, ExpiryPolicy, parse_reminder_days
from loyalty_plugin.extensions import get_session
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.ledger.expiry import expiry_policy, set_expiry_policy
from loyalty_plugin.services.transaction import run_in_transaction


@click.group()
def expiry() -> None:
    """When points expire and when customers are reminded."""


@expiry.command()
@click.option("--merchant", "merchant_id", required=True, help="Merchant id.")
@with_appcontext
def show(merchant_id: str) -> None:
    """Print the merchant's expiry policy."""
    _print(expiry_policy(get_session(), merchant_id))
    get_session().rollback()


@expiry.command("set")
@click.option("--merchant", "merchant_id", required=True, help="Merchant id.")
@click.option("--kind", type=click.Choice([k.value for k in ExpiryKind]), required=True)
@click.option("--days", type=int, help="For days_after_earning: days points last.")
@click.option("--extra-months", type=int, default=0, show_default=True)
@click.option("--fixed-date", type=click.DateTime(formats=["%Y-%m-%d"]))
@click.option("--inactivity-months", type=int, help="Expire idle accounts after N months.")
@click.option("--reminders", default="30,7", show_default=True, help="Days before expiry.")
@with_appcontext
def set_policy(
    merchant_id: str,
    kind: str,
    days: int | None,
    extra_months: int,
    fixed_date: datetime | None,
    inactivity_months: int | None,
    reminders: str,
) -> None:
    """Set the policy; it applies to points earned from now on."""
    try:
        policy = ExpiryPolicy(
            kind=ExpiryKind(kind),
            days=days,
            extra_months=extra_months,
            fixed_date=fixed_date.date() if fixed_date else None,
            inactivity_months=inactivity_months,
            reminder_days=parse_reminder_days(reminders),
        )
        run_in_transaction(
            get_session(),
            lambda s: set_expiry_policy(
                s, merchant_id=merchant_id, policy=policy, now=utcnow(), actor=cli_actor()
            ),
        )
    except LoyaltyError as error:
        raise click.BadParameter(error.message, param_hint=error.field) from None
    _print(policy)


def _print(policy: ExpiryPolicy) -> None:
    detail = {
        ExpiryKind.DAYS_AFTER_EARNING: f" ({policy.days} days)",
        ExpiryKind.END_OF_MONTH: f" (+{policy.extra_months} months)",
        ExpiryKind.END_OF_YEAR: f" (+{policy.extra_months} months)",
        ExpiryKind.FIXED_DATE: f" ({policy.fixed_date})",
    }.get(policy.kind, "")
    click.echo(f"expiry: {policy.kind.value}{detail}")
    idle = f"after {policy.inactivity_months} months" if policy.inactivity_months else "off"
    click.echo(f"inactivity expiry: {idle}")
    click.echo(
        f"reminders: {', '.join(str(d) for d in policy.reminder_days) or 'none'} days before"
    )
