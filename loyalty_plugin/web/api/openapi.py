"""flask-smorest, fitted to this API: exact JSON numbers, our error shape, our spec route.

flask-smorest generates the OpenAPI document from the same marshmallow schemas that parse
requests. Three things are changed: JSON numbers are parsed to ``Decimal`` (never float),
parsing errors answer in the API's ``{"error": ...}`` shape, and the ``Api`` registers no
application-wide handlers or routes (the plugin may live inside a host's own app).
"""

from __future__ import annotations

import threading
from typing import Any

from flask import Flask, Response, jsonify
from flask_smorest import Api, Blueprint
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
    """An ``Api`` that only documents: errors and the spec route belong to our blueprint.

    The document is built when first asked for, not with the app: describing every
    operation from its schemas took about a third of making the app, which every gunicorn
    worker and every test paid whether or not anyone read the document.
    """

    ERROR_SCHEMA = ErrorSchema

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._undocumented: list[tuple[Blueprint, str, Any]] = []
        self._documenting = threading.Lock()

    def register_blueprint(self, blp: Blueprint, *, parameters: Any = None, **options: Any) -> None:
        """Register ``blp`` on the app now, and describe it in the document later (as
        flask-smorest's own method does, in two steps)."""
        name = options.get("name", blp.name)
        self._app.extensions["flask-smorest"]["blp_name_to_api"][name] = self
        self._app.register_blueprint(blp, **options)
        self._undocumented.append((blp, name, parameters))

    def document(self) -> dict[str, Any]:
        """The OpenAPI document, built on the first call (once, whatever the threads)."""
        with self._documenting:
            while self._undocumented:
                blp, name, parameters = self._undocumented[0]
                blp.register_views_in_doc(
                    self, self._app, self.spec, name=name, parameters=parameters
                )
                self.spec.tag({"name": name, "description": blp.description})
                # Off the list only once described: a failure is raised again on the next
                # request, never answered with a document missing this blueprint.
                self._undocumented.pop(0)
        return self.spec.to_dict()

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
    return jsonify(api.document())


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
