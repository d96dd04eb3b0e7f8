"""The ``loyalty`` command: serve, migrate, provision, inspect and repair."""

from __future__ import annotations

import json
from typing import Any

import click
from flask.cli import FlaskGroup, with_appcontext

from loyalty_plugin import create_app
from loyalty_plugin.cli.accounts import accounts
from loyalty_plugin.cli.db import db_group
from loyalty_plugin.cli.demo import demo
from loyalty_plugin.cli.ledger import ledger
from loyalty_plugin.cli.merchants import merchants


def _create_app() -> Any:
    return create_app()


@click.group(
    cls=FlaskGroup,
    create_app=_create_app,
    add_default_commands=False,
    add_version_option=False,
    load_dotenv=False,
)
@click.version_option(package_name="loyalty-plugin")
def main() -> None:
    """loyalty_plugin: points, programs and memberships for your CRM."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
@with_appcontext
def serve(host: str, port: int, threads: int) -> None:
    """Serve the loyalty service with waitress (a production WSGI server)."""
    from flask import current_app
    from waitress import serve as waitress_serve

    prefix = current_app.config["LOYALTY_URL_PREFIX"]
    click.echo(f"loyalty_plugin listening on http://{host}:{port}{prefix}/health")
    waitress_serve(current_app._get_current_object(), host=host, port=port, threads=threads)


def echo_json(data: Any) -> None:
    """Print ``data`` as indented JSON (the ``--json`` output of every command)."""
    click.echo(json.dumps(data, indent=2, default=str))


for command in (db_group, demo, ledger, merchants, accounts):
    main.add_command(command)
