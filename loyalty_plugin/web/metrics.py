"""``GET /metrics``: Prometheus metrics, off unless ``LOYALTY_METRICS`` is set, and only
for an API key with the ``admin`` scope (as the admin API)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app
from flask.typing import ResponseReturnValue

from loyalty_plugin.config import bool_setting
from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import ApiScope
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.metrics import render
from loyalty_plugin.web.api.auth import requires
from loyalty_plugin.web.errors import error_response, handle_errors

blueprint = handle_errors(Blueprint("metrics", __name__))


@blueprint.get("/metrics")
def metrics() -> ResponseReturnValue:
    """The Prometheus text exposition; 404 while ``LOYALTY_METRICS`` is off."""
    if not bool_setting(current_app.config, "LOYALTY_METRICS"):
        return error_response(404, "not_found", "metrics are off (LOYALTY_METRICS)")
    return _scrape()


@requires(ApiScope.ADMIN)
def _scrape() -> ResponseReturnValue:
    session = get_session()
    try:
        text, content_type = render(session, now=utcnow())
    finally:
        session.rollback()
    return Response(text, content_type=content_type)
