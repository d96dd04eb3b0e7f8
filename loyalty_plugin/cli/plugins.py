"""``loyalty plugins``: what is loaded, and which hooks each plugin implements."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from loyalty_plugin.extensions import loyalty_state
from loyalty_plugin.plugins import describe_plugins


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_appcontext
def plugins(as_json: bool) -> None:
    """List the loaded plugins with their hooks."""
    from loyalty_plugin.cli import echo_json

    described = describe_plugins(loyalty_state().plugin_manager)
    if as_json:
        echo_json(described)
        return
    for plugin in described:
        version = f" {plugin['version']}" if plugin["version"] else ""
        click.echo(f"{plugin['name']}{version} ({plugin['source']})")
        for hook in plugin["hooks"]:
            click.echo(f"    {hook}")
