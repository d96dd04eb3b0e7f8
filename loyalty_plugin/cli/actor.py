"""Who runs a ``loyalty`` command, as the audit trail names them."""

from __future__ import annotations

import getpass

from loyalty_plugin.services.audit import Actor


def cli_actor(by: str | None = None) -> Actor:
    """The person running the command: ``by`` when a ``--by`` option names them, else the
    operating-system user."""
    if by and by.strip():
        return Actor.cli(by.strip())
    try:
        return Actor.cli(getpass.getuser())
    except (KeyError, OSError):  # no user name in the environment nor the password database
        return Actor.cli("unknown")
