"""``loyalty customers import`` and ``loyalty balances import``: switching from another
loyalty system (the CSV columns are in docs/integration.md)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from flask.cli import with_appcontext

from loyalty_plugin.domain.errors import LoyaltyError
from loyalty_plugin.extensions import get_session
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.intake import imports
from loyalty_plugin.services.intake.imports import ImportReport

_FILE = click.argument(
    "file", type=click.Path(exists=True, dir_okay=False, allow_dash=True, path_type=Path)
)
_MERCHANT = click.option("--merchant", "merchant_id", required=True, help="Merchant id.")
_DRY_RUN = click.option(
    "--dry-run", is_flag=True, help="Check every row and report the bad ones; import nothing."
)
_JSON = click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")


@click.group()
def customers() -> None:
    """Customers brought from another system."""


@customers.command("import")
@_FILE
@_MERCHANT
@_DRY_RUN
@_JSON
@with_appcontext
def import_customers(file: Path, merchant_id: str, dry_run: bool, as_json: bool) -> None:
    """Create or update customers from the CSV FILE (by the host's customer id).

    Exits 1 if any row was refused; the good rows of a real run are imported all the same,
    and running the corrected file again is safe.
    """
    _run(
        file,
        lambda lines: imports.import_customers(
            get_session(), merchant_id=merchant_id, lines=lines, now=utcnow(), dry_run=dry_run
        ),
        as_json=as_json,
    )


@click.group()
def balances() -> None:
    """Opening balances brought from another system."""


@balances.command("import")
@_FILE
@_MERCHANT
@_DRY_RUN
@_JSON
@with_appcontext
def import_balances(file: Path, merchant_id: str, dry_run: bool, as_json: bool) -> None:
    """Give the customers of the CSV FILE their opening balance, as migration lots.

    One opening balance per customer: the same file again changes nothing, another one
    for the same customer is refused. Exits 1 if any row was refused.
    """
    _run(
        file,
        lambda lines: imports.import_balances(
            get_session(),
            merchant_id=merchant_id,
            lines=lines,
            now=utcnow(),
            actor="cli:import",
            dry_run=dry_run,
        ),
        as_json=as_json,
    )


def _run(file: Path, run: Callable[[Any], ImportReport], *, as_json: bool) -> None:
    from loyalty_plugin.cli import echo_json

    try:
        if str(file) == "-":
            report = run(sys.stdin)
        else:
            with file.open(encoding="utf-8-sig", newline="") as lines:
                report = run(lines)
    except UnicodeDecodeError as error:
        raise click.ClickException(f"{file} is not UTF-8 text: {error.reason}") from None
    except LoyaltyError as error:
        raise click.BadParameter(error.message, param_hint=error.field) from None
    if as_json:
        echo_json(report.as_dict())
    else:
        _print(report)
    if report.error_count:
        sys.exit(1)


def _print(report: ImportReport) -> None:
    for error in report.errors:
        click.echo(str(error), err=True)
    if report.error_count > len(report.errors):
        click.echo(f"... and {report.error_count - len(report.errors)} more", err=True)
    counts = ", ".join(f"{name.replace('_', ' ')} {n}" for name, n in report.counts.items())
    prefix = "dry run, nothing imported: " if report.dry_run else ""
    click.echo(f"{prefix}{counts}")
