"""``loyalty ledger``: check the ledger's invariants and rebuild derived balances."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from loyalty_plugin.extensions import get_session
from loyalty_plugin.services.ledger.integrity import CHECKS, rebuild_balances, verify_ledger
from loyalty_plugin.services.transaction import run_in_transaction


@click.group()
def ledger() -> None:
    """Inspect and repair the points ledger."""


@ledger.command()
@with_appcontext
def verify() -> None:
    """Check every invariant over the whole database; exit 1 on any violation."""
    with click.progressbar(
        length=len(CHECKS), label="checking", file=sys.stderr, hidden=not sys.stderr.isatty()
    ) as bar:
        violations = verify_ledger(get_session(), progress=lambda _name: bar.update(1))
    for violation in violations:
        click.echo(str(violation))
    if violations:
        click.echo(f"{len(violations)} violation(s) found", err=True)
        sys.exit(1)
    click.echo("ledger OK: balances, lots, entries and allocations agree")


@ledger.command()
@with_appcontext
def rebuild() -> None:
    """Recompute lot remainders and account balances from the ledger entries."""
    lots, accounts = run_in_transaction(get_session(), rebuild_balances)
    click.echo(f"corrected {lots} lot(s) and {accounts} account balance(s)")
