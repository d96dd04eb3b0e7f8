"""Thin views: read the raw body, hand it to the intake service, answer what it says."""

from __future__ import annotations

import time

from flask import current_app, jsonify, request
from flask.typing import ResponseReturnValue

from loyalty_plugin.extensions import get_session, loyalty_state
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.intake.webhooks import IntakeSettings, receive_webhook
from loyalty_plugin.services.metrics import observe_intake
from loyalty_plugin.web.errors import error_response


def receive() -> ResponseReturnValue:
    """Verify, store and process one host event; see ``docs/integration.md``."""
    settings = IntakeSettings.from_config(current_app.config)
    limit = settings.max_body_bytes
    if (request.content_length or 0) > limit:
        return error_response(413, "payload_too_large", f"the body is over {limit} bytes")
    # Read at most one byte past the limit, also when no Content-Length was sent.
    body = request.stream.read(limit + 1)
    started = time.perf_counter()
    answer = receive_webhook(
        get_session(),
        body=body,
        headers=dict(request.headers),
        hooks=loyalty_state().plugin_manager.hook,
        settings=settings,
        now=utcnow(),
    )
    mode = "queue" if settings.queue else "sync"
    observe_intake(time.perf_counter() - started, mode=mode, code=answer.status)
    return jsonify(answer.body), answer.status
