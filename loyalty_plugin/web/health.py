"""``GET /health``: is the service up and can it reach its database."""

from __future__ import annotations

from flask import Blueprint, jsonify
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
