"""flask-smorest, fitted to this API: exact JSON numbers, our error shape, our spec route.

flask-smorest generates the OpenAPI document from the same marshmallow schemas that parse
requests. Three things are changed: JSON numbers are parsed to ``Decimal`` (never float),
parsing errors answer in the API's ``{"error": ...}`` shape, and the ``Api`` registers no
application-wide handlers or routes (the plugin may live inside a host's own app).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify
from flask_smorest import Api
from marshmallow import ValidationError
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.exceptions import BadRequest, HTTPException

from loyalty_plugin import __version__
from loyalty_plugin.schemas.api import ErrorSchema
from loyalty_plugin.schemas.body import InvalidJSON, parse_json, unstorable_text
from loyalty_plugin.web.errors import error_response

OPENAPI_VERSION = "3.0.3"


class ExactJSONParser(FlaskParser):
    """Parses JSON bodies with ``Decimal`` numbers and refuses ``NaN`` and ``Infinity``."""

    def _raw_load_json(self, req: Any) -> Any:
        if not is_json_request(req):
            return core.missing
        raw = req.get_data(cache=True)
        if not raw:
            return core.missing  # declared JSON but empty: no body, as without the header
        try:
            document = parse_json(raw)
        except InvalidJSON as error:
            refusal = BadRequest(str(error))
            refusal.data = {"messages": {"json": [str(error)]}}  # read by parsing_error
            raise refusal from None
        if (problem := unstorable_text(document)) is not None:
            raise ValidationError({problem[0]: [problem[1]]})
        return document


class LoyaltyApi(Api):
    """An ``Api`` that only documents: errors and the spec route belong to our blueprint."""

    ERROR_SCHEMA = ErrorSchema

    def _register_doc_blueprint(self) -> None:
        """The document is served by the API blueprint itself (``/api/v1/openapi.json``)."""

    def _register_error_handlers(self) -> None:
        """The API blueprint renders its own errors; the host app's stay untouched."""


def make_api(app: Flask) -> LoyaltyApi:
    """The documentation object of ``app``'s loyalty API."""
    api = LoyaltyApi(
        config_prefix="LOYALTY",
        spec_kwargs={
            "title": "loyalty_plugin API",
            "version": __version__,
            "openapi_version": OPENAPI_VERSION,
            "info": {
                "description": "Points, redemptions, coupons, rewards and adjustments. "
                "Authenticate with `Authorization: Bearer <api key>`."
            },
            "security": [{"bearerAuth": []}],
        },
    )
    api.init_app(app)
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    return api


def parsing_error(error: HTTPException) -> Response:
    """A request webargs could not parse: 400 for bad JSON, 422 naming each field."""
    messages = (getattr(error, "data", None) or {}).get("messages", {})
    if error.code == 400:
        if "json" in messages:
            reason = "; ".join(str(m) for m in messages["json"])
            return error_response(400, "invalid_json", f"the body is not valid JSON: {reason}")
        return error_response(400, "bad_request", error.description or "bad request")
    fields = _flatten(messages)
    return error_response(
        422,
        "invalid_input",
        "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in fields.items()) or "invalid",
        fields,
    )


def openapi_document(api: LoyaltyApi) -> Response:
    """The OpenAPI document, as JSON."""
    return jsonify(api.spec.to_dict())


def _flatten(messages: Any, path: str = "") -> dict[str, list[str]]:
    """``{"json": {"invoice": {"items": {0: {"qty": [...]}}}}}`` -> ``{"invoice.items.0.qty"}``."""
    if isinstance(messages, list):
        return {path or "body": [str(m) for m in messages]}
    flat: dict[str, list[str]] = {}
    for key, value in messages.items():
        name = str(key)
        if not path and name in {"json", "query", "view_args", "headers"}:
            flat.update(_flatten(value, ""))
            continue
        flat.update(_flatten(value, f"{path}.{name}" if path else name))
    return flat
