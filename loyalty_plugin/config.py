"""Deployment configuration: one table of keys, loaded from defaults, file and environment.

Every key is documented in ``docs/configuration.md`` (a test checks). The environment
variable of a key is its own name, e.g. ``LOYALTY_DATABASE_URL``.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import tempfile
import warnings
from pathlib import Path
from typing import Any

#: Every configuration key with its default. ``None`` means "derived at start-up".
DEFAULTS: dict[str, Any] = {
    # Folder for the SQLite file and the generated secret key (read before anything else).
    "LOYALTY_INSTANCE_PATH": None,
    # SQLAlchemy URL of the loyalty database; default: SQLite file in the instance folder.
    "LOYALTY_DATABASE_URL": None,
    # Seconds to wait when opening a database connection; a request meanwhile gets a 503.
    "LOYALTY_DATABASE_TIMEOUT_SECONDS": 5,
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
    # Extra plugin modules to load, as a list or a comma-separated string of module names.
    "LOYALTY_PLUGINS": [],
    # Load plugins that installed packages declare in the `loyalty_plugin` entry-point group.
    "LOYALTY_PLUGIN_ENTRY_POINTS": True,
    # Largest webhook body accepted, in bytes; a larger one is answered 413 and not stored.
    "LOYALTY_WEBHOOK_MAX_BYTES": 1_048_576,
    "LOYALTY_API_MAX_BYTES": 1_048_576,
    # Webhook intake: `sync` applies each event in its request (200 with the points);
    # `queue` (high-load) stores it and answers 202 at once, and `loyalty intake work`
    # (or the apply-host-events job) applies stored events in batches.
    "LOYALTY_WEBHOOK_INTAKE": "sync",
    # Serve Prometheus metrics at <prefix>/metrics (to an API key with the admin scope).
    "LOYALTY_METRICS": False,
    # Host events a queue worker applies per transaction.
    "LOYALTY_INTAKE_BATCH_SIZE": 100,
    # Failed processing attempts after which a host event is dead-lettered.
    "LOYALTY_WEBHOOK_MAX_ATTEMPTS": 10,
    # Seconds before the first retry of a failed host event or outgoing webhook (doubles).
    "LOYALTY_RETRY_BASE_SECONDS": 30,
    # Failed tries after which an outgoing webhook is dead-lettered.
    "LOYALTY_OUTBOX_MAX_ATTEMPTS": 12,
    # Seconds to wait for the host's answer to an outgoing webhook.
    "LOYALTY_OUTBOX_TIMEOUT_SECONDS": 10,
    # Scheduled jobs: `embedded` runs the scheduler inside each web process (every run is
    # claimed in the database, so several are safe); `off` when `loyalty scheduler` runs it.
    "LOYALTY_SCHEDULER": "embedded",
    # Per-job schedule overrides: {"expire-points": "1h", "send-emails": "off"} or, from the
    # environment, "expire-points=1h,send-emails=off" (30s, 15m, 1h, 1d@02:00, off).
    "LOYALTY_JOB_SCHEDULE": {},
    # Seconds a job run holds its lease without renewing it; a crashed run frees it after this.
    "LOYALTY_JOB_LEASE_SECONDS": 600,
    # Days of job run history kept for `loyalty jobs list` and the admin pages.
    "LOYALTY_JOB_HISTORY_DAYS": 30,
    # Due lots per expiry batch; each batch is one transaction over the accounts owning them.
    "LOYALTY_EXPIRY_BATCH_SIZE": 2000,
    # Public base URL of the service, for links in e-mails (portal, unsubscribe).
    "LOYALTY_PUBLIC_URL": None,
    # Days a customer-portal link (in e-mails, or made by the API) stays valid.
    "LOYALTY_PORTAL_LINK_DAYS": 30,
    # SMTP server for e-mail; unset: e-mails are queued but not sent.
    "LOYALTY_SMTP_HOST": None,
    # SMTP port (587 for STARTTLS, 465 for SSL, 25 for plain).
    "LOYALTY_SMTP_PORT": 587,
    # SMTP login; no login when unset.
    "LOYALTY_SMTP_USERNAME": None,
    # SMTP password.
    "LOYALTY_SMTP_PASSWORD": None,
    # SMTP transport security: `starttls`, `ssl` (implicit TLS) or `none`.
    "LOYALTY_SMTP_TLS": "starttls",
    # Seconds to wait for the SMTP server.
    "LOYALTY_SMTP_TIMEOUT_SECONDS": 30,
    # Sender address of every e-mail (the display name is the merchant's name).
    "LOYALTY_MAIL_FROM": "loyalty@localhost",
    # Failed tries after which a queued e-mail is given up.
    "LOYALTY_EMAIL_MAX_ATTEMPTS": 8,
    # Seconds before the first retry of an e-mail (doubles each time, at most 6 hours).
    "LOYALTY_EMAIL_RETRY_SECONDS": 60,
    # Hours an admin session lasts at most after signing in.
    "LOYALTY_ADMIN_SESSION_HOURS": 12,
    # Minutes without a request after which an admin session ends.
    "LOYALTY_ADMIN_IDLE_MINUTES": 120,
    # Wrong passwords for one staff account, within LOYALTY_ADMIN_ATTEMPT_MINUTES, after
    # which even the right one is refused until the wait has passed.
    "LOYALTY_ADMIN_MAX_ATTEMPTS": 5,
    # The same for one address (IP), however many accounts it tries.
    "LOYALTY_ADMIN_MAX_ATTEMPTS_PER_ADDRESS": 20,
    # Minutes in which wrong passwords count (and so the longest wait).
    "LOYALTY_ADMIN_ATTEMPT_MINUTES": 15,
    # Hours a one-time set-password link for a staff member works.
    "LOYALTY_ADMIN_PASSWORD_LINK_HOURS": 72,
    # Days an API Idempotency-Key and its stored answer are kept (at least 7).
    "LOYALTY_IDEMPOTENCY_RETENTION_DAYS": 7,
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
    """The secret key kept in the instance folder, created with mode 0600 on first use.

    Several workers may start at once on a fresh folder: each writes a candidate to its own
    temporary file and publishes it with an atomic ``link``; the first one wins and every
    process reads that one.
    """
    path = Path(instance_path) / SECRET_KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, candidate = tempfile.mkstemp(dir=path.parent, prefix=".secret_key.")
        try:
            with os.fdopen(descriptor, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
            with contextlib.suppress(FileExistsError):
                os.link(candidate, path)
        finally:
            os.unlink(candidate)
    return path.read_text().strip()


def int_setting(config: dict[str, Any], key: str) -> int:
    """An integer setting (environment variables arrive as strings)."""
    return int(config[key])


def bool_setting(config: dict[str, Any], key: str) -> bool:
    """A yes/no setting: ``true``/``false``, ``1``/``0``, ``yes``/``no`` or a bool."""
    value = config[key]
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def list_setting(config: dict[str, Any], key: str) -> list[str]:
    """A list setting: a JSON list, or a comma-separated string."""
    value = config[key] or []
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return [str(item) for item in value]
