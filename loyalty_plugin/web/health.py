"""``GET /health``: is the service up and can it reach its database; ``GET /``: where to go."""

from __future__ import annotations

from flask import Blueprint, jsonify, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from loyalty_plugin.extensions import get_session
from loyalty_plugin.web.errors import RETRY_AFTER_SECONDS, handle_errors

blueprint = handle_errors(Blueprint("health", __name__))


@blueprint.get("/health")
def health() -> ResponseReturnValue:
    """200 with the version when the database answers, 503 otherwise.

    It waits at most ``LOYALTY_DATABASE_TIMEOUT_SECONDS`` for a connection, and a pooled
    connection the server dropped is replaced first (``pool_pre_ping``), so the answer turns
    back to 200 by itself once the database is back.
    """
    from loyalty_plugin import __version__

    try:
        get_session().execute(text("SELECT 1"))
    except SQLAlchemyError:
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
        return jsonify(status="unavailable", database="unreachable"), 503, headers
    return jsonify(status="ok", version=__version__, database="ok")


@blueprint.get("/")
def index() -> ResponseReturnValue:
    """Where to go from the prefix: health, the customer portal and the API's description."""
    from loyalty_plugin import __version__

    return jsonify(
        service="loyalty_plugin",
        version=__version__,
        links={
            "health": url_for("health.health"),
            "portal": url_for("portal.overview"),
            "openapi": url_for("api.openapi_json"),
        },
        docs="The portal opens from a signed link (POST /api/v1/customers/{id}/portal-link).",
    )
