"""Jobs of the webhook machinery: apply queued and retry failed host events, deliver
outgoing webhooks."""

from __future__ import annotations

import time

from flask import Flask
from sqlalchemy.orm import Session

from loyalty_plugin.extensions import loyalty_state
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.plugins import bind_session
from loyalty_plugin.services.intake.queue import Batch, apply_queued
from loyalty_plugin.services.intake.webhooks import IntakeSettings, retry_due
from loyalty_plugin.services.messaging.outbox import OutboxSettings, deliver_due


def job_session(app: Flask) -> Session:
    """The app's session, wired to the outbox and the notification hooks."""
    state = loyalty_state(app)
    return bind_session(state.db.session, state.plugin_manager)


def retry_host_events(app: Flask, *, merchant_id: str | None = None) -> dict[str, int]:
    """Run due pending events again and recheck waiting ones; counts by new status."""
    with app.app_context():
        return retry_due(
            job_session(app),
            hooks=loyalty_state(app).plugin_manager.hook,
            settings=IntakeSettings.from_config(app.config),
            now=utcnow(),
            merchant_id=merchant_id,
        )


#: Longest a run of the apply-host-events job drains the queue before it lets the next run.
DRAIN_SECONDS = 60.0


def apply_host_events(
    app: Flask, *, merchant_id: str | None = None, seconds: float = DRAIN_SECONDS
) -> dict[str, int]:
    """Apply queued host events (high-load intake) batch after batch until the queue is
    empty or ``seconds`` have passed; counts by new status."""
    counts: dict[str, int] = {}
    deadline = time.monotonic() + seconds
    with app.app_context():
        settings = IntakeSettings.from_config(app.config)
        hooks = loyalty_state(app).plugin_manager.hook
        while time.monotonic() < deadline:
            batch = apply_queued(
                job_session(app),
                hooks=hooks,
                settings=settings,
                now=utcnow(),
                merchant_id=merchant_id,
            )
            _add(counts, batch)
            if batch.done == 0:
                break
    return counts


def _add(counts: dict[str, int], batch: Batch) -> None:
    for status, count in batch.statuses.items():
        counts[status] = counts.get(status, 0) + count


def deliver_outbox(app: Flask, *, merchant_id: str | None = None) -> dict[str, int]:
    """Post due outgoing webhooks; counts of delivered, retried and dead messages."""
    with app.app_context():
        return deliver_due(
            job_session(app),
            now=utcnow(),
            settings=OutboxSettings.from_config(app.config),
            merchant_id=merchant_id,
        )
