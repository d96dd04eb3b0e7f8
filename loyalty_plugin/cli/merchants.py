"""``loyalty merchants``: the tenants of this installation."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from loyalty_plugin.domain.errors import LoyaltyError
from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import Merchant
from loyalty_plugin.services.merchants.registration import create_merchant
from loyalty_plugin.services.transaction import run_in_transaction


def merchant_dict(merchant: Merchant) -> dict[str, str]:
    """A merchant as the ``--json`` output shows it."""
    return {
        "id": merchant.id,
        "name": merchant.name,
        "currency": merchant.currency,
        "timezone": merchant.timezone,
    }


@click.group()
def merchants() -> None:
    """Create and list merchants."""


@merchants.command("create")
@click.argument("merchant_id")
@click.option("--name", required=True)
@click.option("--currency", default=None, help="ISO 4217 code [default: LOYALTY_DEFAULT_CURRENCY]")
@click.option("--timezone", default=None, help="IANA zone [default: LOYALTY_TIMEZONE]")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_appcontext
def create(
    merchant_id: str, name: str, currency: str | None, timezone: str | None, as_json: bool
) -> None:
    """Create merchant MERCHANT_ID."""
    from loyalty_plugin.cli import echo_json

    currency = currency or current_app.config["LOYALTY_DEFAULT_CURRENCY"]
    timezone = timezone or current_app.config["LOYALTY_TIMEZONE"]
    try:
        merchant = run_in_transaction(
            get_session(),
            lambda s: create_merchant(
                s, merchant_id=merchant_id, name=name, currency=currency, timezone=timezone
            ),
        )
    except LoyaltyError as error:
        raise click.BadParameter(error.message, param_hint=error.field) from None
    if as_json:
        echo_json(merchant_dict(merchant))
    else:
        click.echo(f"created merchant {merchant.id} ({merchant.name}, {merchant.currency})")


@merchants.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_appcontext
def list_merchants(as_json: bool) -> None:
    """List every merchant."""
    from loyalty_plugin.cli import echo_json

    rows = [merchant_dict(m) for m in get_session().scalars(select(Merchant).order_by(Merchant.id))]
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        click.echo(f"{row['id']:<20} {row['currency']}  {row['timezone']:<20} {row['name']}")
