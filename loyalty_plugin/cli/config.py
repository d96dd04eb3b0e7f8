"""``loyalty config``: a merchant's whole configuration as one JSON file."""

from __future__ import annotations

import json
import sys
from typing import IO, Any

import click
from flask.cli import with_appcontext
from sqlalchemy.orm import Session

from loyalty_plugin.cli.actor import cli_actor
from loyalty_plugin.cli.programs import (
    _kinds,
    _merchant,
    _merchant_option,
    domain_error,
    read_document,
    write_document,
)
from loyalty_plugin.domain.errors import LoyaltyError
from loyalty_plugin.extensions import get_session
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.schemas.config import InvalidConfig
from loyalty_plugin.services.merchants import config as svc
from loyalty_plugin.services.transaction import run_in_transaction


@click.group()
def config() -> None:
    """Export, import and compare a merchant's whole configuration (one JSON file)."""


@config.command("export")
@_merchant_option
@click.option("--output", "-o", type=click.File("w"), default="-", help="File [default: stdout].")
@with_appcontext
def export(merchant_id: str | None, output: IO[str]) -> None:
    """Write the merchant's settings, expiry, reminders, e-mails, programs and rewards."""
    write_document(output, svc.export_config, merchant_id)


@config.command("import")
@click.argument("file", type=click.File("rb"))
@_merchant_option
@click.option("--json", "as_json", is_flag=True, help="Print what changed as JSON.")
@with_appcontext
def import_(file: IO[bytes], merchant_id: str | None, as_json: bool) -> None:
    """Make the merchant's configuration match FILE: all of it, or nothing if any part is
    refused. Sections left out of FILE are left as they are."""
    document = read_document(file)
    changes = _run(lambda s: _import(s, document, merchant_id, dry_run=False))
    _print(changes, as_json, empty="nothing to change")


@config.command("diff")
@click.argument("file", type=click.File("rb"))
@_merchant_option
@click.option("--json", "as_json", is_flag=True, help="Print the changes as JSON.")
@click.option("--exit-code", is_flag=True, help="Exit with status 1 when there are changes.")
@with_appcontext
def diff(file: IO[bytes], merchant_id: str | None, as_json: bool, exit_code: bool) -> None:
    """Show what `loyalty config import FILE` would change; nothing is written."""
    document = read_document(file)
    session = get_session()
    try:
        changes = _import(session, document, merchant_id, dry_run=True)
    except LoyaltyError as error:
        raise _fail(error) from None
    finally:
        session.rollback()
    _print(changes, as_json, empty="no differences")
    if exit_code and changes:
        sys.exit(1)


def _import(
    session: Session, document: Any, merchant_id: str | None, *, dry_run: bool
) -> list[svc.Change]:
    """Import ``document`` (or, with ``dry_run``, find what importing it would change)."""
    return svc.import_config(
        session,
        merchant_id=_merchant(merchant_id),
        document=document,
        now=utcnow(),
        actor=cli_actor(),
        extra_kinds=_kinds(),
        dry_run=dry_run,
    )


def _run(work: Any) -> Any:
    try:
        return run_in_transaction(get_session(), work)
    except LoyaltyError as error:
        raise _fail(error) from None


def _fail(error: LoyaltyError) -> click.ClickException:
    """Every problem of a refused document, one path a line; nothing was changed."""
    if isinstance(error, InvalidConfig):
        lines = [f"  {path}: {'; '.join(messages)}" for path, messages in error.fields.items()]
        return click.ClickException("invalid configuration, nothing changed:\n" + "\n".join(lines))
    return domain_error(error)


def _print(changes: list[svc.Change], as_json: bool, *, empty: str) -> None:
    from loyalty_plugin.cli import echo_json

    if as_json:
        echo_json([change.to_dict() for change in changes])
        return
    if not changes:
        click.echo(empty)
        return
    for change in changes:
        if change.kind == "added":
            click.echo(f"+ {change.path}: {_short(change.after)}")
        elif change.kind == "removed":
            click.echo(f"- {change.path}: {_short(change.before)}")
        else:
            click.echo(f"~ {change.path}: {_short(change.before)} -> {_short(change.after)}")


def _short(value: Any, limit: int = 120) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."
