"""Jobs of the webhook machinery: retry host events, deliver outgoing webhooks."""

from __future__ import annotations

from flask import Flask
from sqlalchemy.orm import Session

from loyalty_plugin.extensions import loyalty_state
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.plugins import bind_session
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


def deliver_outbox(app: Flask, *, merchant_id: str | None = None) -> dict[str, int]:
    """Post due outgoing webhooks; counts of delivered, retried and dead messages."""
    with app.app_context():
        return deliver_due(
            job_session(app),
            now=utcnow(),
            settings=OutboxSettings.from_config(app.config),
            merchant_id=merchant_id,
        )
