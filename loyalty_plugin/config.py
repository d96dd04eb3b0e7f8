"""Deployment configuration: one table of keys, loaded from defaults, file and environment.

Every key is documented in ``docs/configuration.md`` (a test checks). The environment
variable of a key is its own name, e.g. ``LOYALTY_DATABASE_URL``.
"""

from __future__ import annotations

import json
import os
import secrets
import warnings
from pathlib import Path
from typing import Any

#: Every configuration key with its default. ``None`` means "derived at start-up".
DEFAULTS: dict[str, Any] = {
    # Folder for the SQLite file and the generated secret key (read before anything else).
    "LOYALTY_INSTANCE_PATH": None,
    # SQLAlchemy URL of the loyalty database; default: SQLite file in the instance folder.
    "LOYALTY_DATABASE_URL": None,
    # Flask secret key; generated once and stored in the instance folder when unset.
    "LOYALTY_SECRET_KEY": None,
    # IANA time zone for dates shown to people when a merchant has none of its own.
    "LOYALTY_TIMEZONE": "UTC",
    # ISO 4217 currency of merchants created without one.
    "LOYALTY_DEFAULT_CURRENCY": "EUR",
    # Id of the merchant used when an event names none.
    "LOYALTY_DEFAULT_MERCHANT": "default",
    # URL prefix of the blueprints when mounted (standalone service and embedded).
    "LOYALTY_URL_PREFIX": "/loyalty",
    # Log every plugin hook call (pluggy's tracing) at DEBUG level.
    "LOYALTY_TRACE_HOOKS": False,
}

SECRET_KEY_FILE = "secret_key"  # noqa: S105 - a file name, not a secret


def load_config(
    instance_path: str,
    overrides: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Defaults, then ``instance/loyalty.json``, then the environment, then ``overrides``."""
    config = dict(DEFAULTS)
    instance_file = Path(instance_path) / "loyalty.json"
    if instance_file.exists():
        config.update(json.loads(instance_file.read_text()))
    env = os.environ if environ is None else environ
    config.update({key: env[key] for key in DEFAULTS if key in env})
    config.update(overrides or {})
    for key in config.keys() - DEFAULTS.keys():
        if key.startswith("LOYALTY_"):
            warnings.warn(f"unknown configuration key {key}", stacklevel=2)
    if not config["LOYALTY_DATABASE_URL"]:
        config["LOYALTY_DATABASE_URL"] = f"sqlite:///{Path(instance_path) / 'loyalty.sqlite3'}"
    if not config["LOYALTY_SECRET_KEY"]:
        config["LOYALTY_SECRET_KEY"] = stored_secret_key(instance_path)
    return config


def stored_secret_key(instance_path: str) -> str:
    """The secret key kept in the instance folder, created with mode 0600 on first use."""
    path = Path(instance_path) / SECRET_KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()
