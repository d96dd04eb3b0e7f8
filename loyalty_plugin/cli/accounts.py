"""``loyalty accounts``: look at a customer's points."""

from __future__ import annotations

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from loyalty_plugin.domain.errors import LoyaltyError
from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import LedgerEntry
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.ledger.accounts import account_for_host_customer
from loyalty_plugin.services.ledger.entries import pending_points, spendable_points


@click.group()
def accounts() -> None:
    """Inspect customers' points accounts."""


@accounts.command()
@click.argument("customer_id")
@click.option("--merchant", "merchant_id", required=True, help="Merchant id.")
@click.option("--limit", default=20, show_default=True, help="Ledger entries to show.")
@with_appcontext
def show(customer_id: str, merchant_id: str, limit: int) -> None:
    """Balance and latest ledger entries of CUSTOMER_ID (the host's id)."""
    session = get_session()
    try:
        account = account_for_host_customer(session, merchant_id, customer_id)
    except LoyaltyError as error:
        raise click.BadParameter(error.message, param_hint=error.field) from None
    now = utcnow()
    click.echo(
        f"{account.customer.display_name} with {merchant_id}: balance {account.balance}, "
        f"spendable {spendable_points(session, account.id, now)}, "
        f"pending {pending_points(session, account.id, now)}"
    )
    click.echo(
        f"lifetime earned {account.lifetime_earned}, redeemed {account.lifetime_redeemed}, "
        f"expired {account.lifetime_expired}"
    )
    entries = session.scalars(
        select(LedgerEntry)
        .where(LedgerEntry.account_id == account.id)
        .order_by(LedgerEntry.id.desc())
        .limit(limit)
    )
    for entry in entries:
        ref = f"{entry.reference_type}:{entry.reference_id}" if entry.reference_type else ""
        click.echo(
            f"{entry.created_at:%Y-%m-%d %H:%M}  {entry.kind.value:<8} {entry.points:>+8} "
            f"= {entry.balance_after:>8}  {ref:<24} {entry.reason or ''}"
        )
    session.rollback()
