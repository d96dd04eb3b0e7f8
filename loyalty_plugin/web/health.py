"""``GET /health``: is the service up and can it reach its database; ``GET /``: where to go."""

from __future__ import annotations

from flask import Blueprint, jsonify, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from loyalty_plugin.extensions import get_session
from loyalty_plugin.web.errors import handle_errors

blueprint = handle_errors(Blueprint("health", __name__))


@blueprint.get("/health")
def health() -> ResponseReturnValue:
    """200 with the version when the database answers, 503 otherwise."""
    from loyalty_plugin import __version__

    try:
        get_session().execute(text("SELECT 1"))
    except SQLAlchemyError:
        return jsonify(status="unavailable", database="unreachable"), 503
    return jsonify(status="ok", version=__version__)


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
