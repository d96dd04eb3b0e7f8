"""The ``loyalty`` command: serve, migrate, provision, inspect and repair."""

from __future__ import annotations

import errno
import json
from typing import Any

import click
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy.exc import SQLAlchemyError

from loyalty_plugin import create_app
from loyalty_plugin.cli.accounts import accounts
from loyalty_plugin.cli.audit import audit
from loyalty_plugin.cli.config import config
from loyalty_plugin.cli.db import db_group
from loyalty_plugin.cli.demo import demo
from loyalty_plugin.cli.emails import emails
from loyalty_plugin.cli.events import events
from loyalty_plugin.cli.expiry import expiry
from loyalty_plugin.cli.imports import balances, customers
from loyalty_plugin.cli.intake import intake
from loyalty_plugin.cli.jobs import jobs, scheduler
from loyalty_plugin.cli.keys import keys
from loyalty_plugin.cli.ledger import ledger
from loyalty_plugin.cli.levels import levels_group
from loyalty_plugin.cli.merchants import merchants
from loyalty_plugin.cli.outbox import outbox
from loyalty_plugin.cli.plugins import plugins
from loyalty_plugin.cli.programs import programs, rates
from loyalty_plugin.cli.secrets import endpoints, secrets
from loyalty_plugin.cli.send_event import send_event
from loyalty_plugin.cli.staff import staff


def _create_app() -> Any:
    return create_app()


class LoyaltyGroup(FlaskGroup):
    """Flask's command group, without its ``--app``/``--env-file``/``--debug`` options and
    with database failures reported in one line instead of a traceback."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.params = [p for p in self.params if p.name not in {"app", "env_file", "debug"}]

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SQLAlchemyError as error:
            cause = str(getattr(error, "orig", None) or error).splitlines()[0]
            raise click.ClickException(
                f"database error: {cause}\n"
                "Is the database reachable and migrated? Run `loyalty db upgrade`."
            ) from None


@click.group(
    cls=LoyaltyGroup,
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
@click.option("--port", default=8000, show_default=True, type=int, help="0: any free port.")
@click.option("--threads", default=8, show_default=True, type=int)
@with_appcontext
def serve(host: str, port: int, threads: int) -> None:
    """Serve the loyalty service with waitress (a production WSGI server)."""
    from flask import current_app

    from loyalty_plugin.jobs.scheduler import start_embedded

    app = current_app._get_current_object()
    server = bind_server(app, host=host, port=port, threads=threads)
    start_embedded(app)
    prefix = app.config["LOYALTY_URL_PREFIX"]
    click.echo(f"loyalty_plugin listening on {served_url(host, server)}{prefix}/health")
    server.run()


def served_url(host: str, server: Any) -> str:
    """The address the server really listens on (``--port 0`` picks one)."""
    port = getattr(server, "effective_port", None)
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host  # noqa: S104 - only displayed
    return f"http://{shown}:{port}"


def bind_server(app: Any, *, host: str, port: int, threads: int) -> Any:
    """A waitress server bound to ``host:port``, or a one-line error when the port is taken.

    Without ``LOYALTY_PUBLIC_URL``, links in e-mails and portal-link answers then use the
    address really served, not a guess.
    """
    from waitress.server import create_server

    try:
        server = create_server(app, host=host, port=port, threads=threads)
    except OSError as error:
        if error.errno not in (errno.EADDRINUSE, errno.EACCES):
            raise
        taken = "is already in use" if error.errno == errno.EADDRINUSE else "is not allowed"
        raise click.ClickException(
            f"port {port} on {host} {taken} (another `loyalty serve`?).\n"
            f"Choose another: `loyalty serve --port {port + 1}` or `make serve PORT={port + 1}`."
        ) from None
    if not app.config.get("LOYALTY_PUBLIC_URL"):
        app.config["LOYALTY_PUBLIC_URL"] = served_url(host, server)
        click.echo(
            f"LOYALTY_PUBLIC_URL is not set: links in e-mails and portal links use "
            f"{app.config['LOYALTY_PUBLIC_URL']} (set it to the address customers reach)."
        )
    return server


def echo_json(data: Any) -> None:
    """Print ``data`` as indented JSON (the ``--json`` output of every command)."""
    click.echo(json.dumps(data, indent=2, default=str))


for command in (db_group, demo, ledger, merchants, accounts):
    main.add_command(command)

for command in (events, intake, outbox, plugins, secrets, endpoints, send_event):
    main.add_command(command)

for command in (scheduler, jobs, emails, expiry):
    main.add_command(command)

main.add_command(keys)
main.add_command(staff)
main.add_command(audit)

for command in (programs, rates, levels_group, config):
    main.add_command(command)

for command in (customers, balances):
    main.add_command(command)
