"""Errors as JSON for API clients and as a short page for people; never a stack trace."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from flask import Blueprint, Flask, Response, jsonify, request
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from loyalty_plugin.database import is_unavailable
from loyalty_plugin.domain.errors import (
    IdempotencyConflict,
    InsufficientCredit,
    InsufficientPoints,
    InvalidOperation,
    LoyaltyError,
    NotFound,
)

log = logging.getLogger(__name__)

#: Seconds a client is told to wait (``Retry-After``) when the database cannot be reached.
RETRY_AFTER_SECONDS = 5

#: HTTP status of each domain error.
STATUS: dict[type[LoyaltyError], int] = {
    NotFound: 404,
    InsufficientPoints: 409,
    InsufficientCredit: 409,
    IdempotencyConflict: 422,
    InvalidOperation: 409,
}


def error_response(status: int, code: str, message: str, fields: dict | None = None) -> Response:
    """The one error shape: ``{"error": {"code", "message", "fields"}}``."""
    response = jsonify(error={"code": code, "message": message, "fields": fields or {}})
    response.status_code = status
    return response


def handle_errors(blueprint: Blueprint) -> Blueprint:
    """Answer domain errors and unexpected failures of ``blueprint``'s views as JSON."""
    blueprint.register_error_handler(LoyaltyError, _domain_error)
    blueprint.register_error_handler(DBAPIError, _database_error)
    blueprint.register_error_handler(PoolTimeout, _database_error)
    blueprint.register_error_handler(Exception, _unexpected)
    return blueprint


def database_unavailable() -> Response:
    """503 ``database_unavailable`` with ``Retry-After``: send the same request again later.

    A webhook re-sent with its ``webhook-id``, or an API write with its ``Idempotency-Key``,
    is applied once, also if the outage came just as it was being committed.
    """
    message = "the database cannot be reached; send the same request again later"
    response = error_response(503, "database_unavailable", message)
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def register_error_handlers(
    app: Flask,
    prefix: str,
    *,
    pages: Mapping[str, Callable[[HTTPException], Response]] | None = None,
) -> None:
    """Answer HTTP errors (404, 405, 413...) under ``prefix`` in the error shape.

    ``pages`` maps a path (``/loyalty/admin``) to the handler that answers errors under it
    with a page for people instead (URLs that match no view, wrong methods).
    """

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response | HTTPException:
        if not _under(request.path, prefix):
            return error
        for path, handler in (pages or {}).items():
            if _under(request.path, path):
                return handler(error)
        code = (error.name or "error").lower().replace(" ", "_")
        return error_response(error.code or 500, code, error.description or error.name)


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix.rstrip("/") + "/")


def _domain_error(error: LoyaltyError) -> Response:
    response = jsonify(error=error.to_dict())
    response.status_code = STATUS.get(type(error), 422)
    return response


def _database_error(error: Exception) -> Response | HTTPException:
    if not is_unavailable(error):
        return _unexpected(error)
    cause = error.orig if isinstance(error, DBAPIError) else error
    log.warning("database unavailable on %s %s: %s", request.method, request.path, cause)
    return database_unavailable()


def _unexpected(error: Exception) -> Response | HTTPException:
    if isinstance(error, HTTPException):
        return error
    log.exception("unhandled error on %s %s", request.method, request.path)
    return error_response(500, "internal_error", "something went wrong on our side")
