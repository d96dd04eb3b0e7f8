"""``loyalty db``: Alembic migrations of the loyalty database."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from loyalty_plugin import migrations
from loyalty_plugin.extensions import loyalty_state


def _engine():
    return loyalty_state().db.engine


@click.group("db")
def db_group() -> None:
    """Create and migrate the loyalty database."""


@db_group.command()
@click.argument("revision", default="head")
@with_appcontext
def upgrade(revision: str) -> None:
    """Bring the database schema up to REVISION (default: the latest)."""
    migrations.upgrade(_engine(), revision)
    click.echo(f"database at {revision}")


@db_group.command()
@click.argument("revision")
@with_appcontext
def downgrade(revision: str) -> None:
    """Take the database schema down to REVISION."""
    migrations.downgrade(_engine(), revision)


@db_group.command()
@with_appcontext
def current() -> None:
    """Show the schema revision of the database."""
    migrations.current(_engine())


@db_group.command()
@click.option("-m", "--message", required=True, help="What the migration does.")
@with_appcontext
def revision(message: str) -> None:
    """Write a new migration from the difference between the models and the database."""
    migrations.revision(_engine(), message)
