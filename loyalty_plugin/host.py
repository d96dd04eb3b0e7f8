"""For a host written in Python: process an event in-process, exactly as a webhook would be.

    from loyalty_plugin.host import process_event

    answer = process_event(
        {"type": "invoice.paid", "occurred_at": "2026-03-01T10:00:00Z", "data": {...}},
        event_id="invoice-1001-paid",
        app=app,
    )
    answer.status, answer.body   # 200 {"status": "processed", ...}, as POST /webhooks answers

Same validation, same inbox, same idempotency as ``POST /webhooks``; only the signature is
skipped, since nothing crosses a network.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask, current_app

from loyalty_plugin.extensions import loyalty_state
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.plugins import bind_session
from loyalty_plugin.services.intake.webhooks import Answer, IntakeSettings, process_host_event

__all__ = ["Answer", "process_event"]


def process_event(event: Mapping[str, Any], *, event_id: str, app: Flask | None = None) -> Answer:
    """Process one host event dict; ``event_id`` plays the part of ``webhook-id``.

    :param event: the event body of contract v1 (``type``, ``occurred_at``, ``data``,
        optional ``merchant_id``).
    :param event_id: the host's id for this event; a retry must reuse it.
    :param app: the Flask app the plugin is mounted on (default: the current app).
    :returns: the HTTP status and JSON body the webhook would have answered.
    """
    app = app or current_app._get_current_object()
    with app.app_context():
        state = loyalty_state(app)
        session = bind_session(state.db.session(), state.plugin_manager)
        return process_host_event(
            session,
            event,
            event_id=event_id,
            hooks=state.plugin_manager.hook,
            settings=IntakeSettings.from_config(app.config),
            now=utcnow(),
        )
