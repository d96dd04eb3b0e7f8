"""``loyalty keys``: API keys for hosts, shown once at creation."""

from __future__ import annotations

from typing import Any

import click
from flask.cli import with_appcontext

from loyalty_plugin.cli.actor import cli_actor
from loyalty_plugin.domain.errors import LoyaltyError
from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import ApiKey, ApiScope
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.merchants.api_keys import create_api_key, list_api_keys, revoke_api_key
from loyalty_plugin.services.transaction import run_in_transaction


def key_dict(key: ApiKey) -> dict[str, Any]:
    """A key as ``--json`` shows it (never its secret)."""
    return {
        "prefix": key.prefix,
        "name": key.name,
        "scope": str(key.scope),
        "merchants": key.merchant_ids,
        "created_at": key.created_at,
        "last_used_at": key.last_used_at,
        "revoked_at": key.revoked_at,
    }


def _run(work: Any) -> Any:
    try:
        return run_in_transaction(get_session(), work)
    except LoyaltyError as error:
        raise click.BadParameter(error.message, param_hint=error.field) from None


@click.group()
def keys() -> None:
    """API keys: made here, sent by hosts as "Authorization: Bearer <key>"."""


@keys.command("create")
@click.option(
    "--merchant",
    "merchant_ids",
    required=True,
    multiple=True,
    help="Merchant id; repeat it for a host key covering several merchants.",
)
@click.option("--scope", type=click.Choice([s.value for s in ApiScope]), required=True)
@click.option("--name", default="host", show_default=True, help="What the key is for.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_appcontext
def create(merchant_ids: tuple[str, ...], scope: str, name: str, as_json: bool) -> None:
    """Create a key and print it; it is shown only this once."""
    from loyalty_plugin.cli import echo_json

    key, token = _run(
        lambda s: create_api_key(
            s,
            merchant_id=merchant_ids[0],
            also_merchants=merchant_ids[1:],
            scope=scope,
            name=name,
            now=utcnow(),
            actor=cli_actor(),
        )
    )
    if as_json:
        echo_json(key_dict(key) | {"key": token})
        return
    click.echo(f"API key {key.prefix} ({key.scope}) for {', '.join(key.merchant_ids)}:")
    click.echo(token)
    click.echo("Store it now: it cannot be shown again.", err=True)


@keys.command("list")
@click.option("--merchant", "merchant_id", help="Only this merchant's keys.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_appcontext
def list_keys(merchant_id: str | None, as_json: bool) -> None:
    """List keys (prefix, scope, merchants, last use), never their secrets."""
    from loyalty_plugin.cli import echo_json

    rows = [key_dict(k) for k in list_api_keys(get_session(), merchant_id=merchant_id)]
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        state = "revoked" if row["revoked_at"] else f"last used {row['last_used_at'] or 'never'}"
        click.echo(
            f"{row['prefix']}  {row['scope']:<5}  {','.join(row['merchants']):<20} "
            f"{row['name']:<20} {state}"
        )


@keys.command("revoke")
@click.argument("prefix")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_appcontext
def revoke(prefix: str, as_json: bool) -> None:
    """Revoke the key starting with PREFIX (lk_xxxxxxxx); it fails from now on."""
    from loyalty_plugin.cli import echo_json

    key = _run(lambda s: revoke_api_key(s, prefix=prefix[:11], now=utcnow(), actor=cli_actor()))
    if as_json:
        echo_json(key_dict(key))
    else:
        click.echo(f"revoked {key.prefix} ({key.name})")
