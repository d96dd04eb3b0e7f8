"""The OpenAPI document: valid OpenAPI 3, complete, and honoured by the running API."""

from __future__ import annotations

import re
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error

from loyalty_plugin.web.api.blueprint import ROUTES
from tests.api.conftest import PREFIX


@pytest.mark.backends("sqlite")
def test_the_document_is_valid_openapi_3(client) -> None:
    """GET /api/v1/openapi.json needs no key and validates as OpenAPI 3."""
    document = client.get(f"{PREFIX}/openapi.json").json
    validate(document)
    assert document["openapi"].startswith("3.")


@pytest.mark.backends("sqlite")
def test_every_route_is_documented_with_its_idempotency_header(client) -> None:
    """Each route appears with its method; POSTs that change points require Idempotency-Key."""
    paths = client.get(f"{PREFIX}/openapi.json").json["paths"]
    for route in ROUTES:
        path = PREFIX + re.sub(r"<(?:[^:>]+:)?([a-z_]+)>", r"{\1}", route.rule)
        operation = paths[path][route.method.lower()]
        headers = {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "header"}
        if route.idempotency == "required":
            assert headers["Idempotency-Key"]["required"] is True, path
        assert "401" in operation["responses"] and "403" in operation["responses"], path


@pytest.mark.backends("sqlite")
def test_generated_requests_never_get_a_server_error(app, keys, customer) -> None:
    """Whatever schemathesis sends to each operation, with an admin key, nothing answers 5xx."""
    customer("42", 1_000)
    schema = schemathesis.openapi.from_wsgi(f"{PREFIX}/openapi.json", app)
    headers = {"Authorization": f"Bearer {keys['admin']}"}
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=15,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def never_5xx(case: Any) -> None:
            response = case.call(headers=headers)
            case.validate_response(response, checks=(not_a_server_error,))

        never_5xx()


@pytest.mark.backends("sqlite")
def test_the_document_is_built_when_first_asked_for_and_once(app, client, monkeypatch) -> None:
    """Making the app does not build the document (a third of the time it took to make
    one); the first request builds it, and concurrent first requests build it once."""
    from concurrent.futures import ThreadPoolExecutor

    from flask_smorest import Blueprint

    built: list[str] = []
    real = Blueprint.register_views_in_doc

    def counted(blp: Blueprint, *args: object, **kwargs: object) -> None:
        built.append(blp.name)
        real(blp, *args, **kwargs)

    monkeypatch.setattr(Blueprint, "register_views_in_doc", counted)
    api = app.extensions["loyalty"].extras["openapi"]
    assert api.spec.to_dict().get("paths", {}) == {}, "the document was built with the app"
    with ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(lambda _: app.test_client().get(f"{PREFIX}/openapi.json"), range(8))
        )
    documents = [answer.json for answer in answers]
    assert all(document == documents[0] for document in documents)
    assert len(documents[0]["paths"]) >= len({route.rule for route in ROUTES})
    assert [tag["name"] for tag in documents[0]["tags"]] == ["api"]
    assert built == ["api"], built


@pytest.mark.backends("sqlite")
def test_a_document_that_fails_to_build_is_never_served_in_part(app, monkeypatch) -> None:
    """A blueprint whose description fails stays to be described: every request fails
    (500) rather than the second one serving a document without its paths."""
    from flask_smorest import Blueprint

    real = Blueprint.register_views_in_doc
    calls: list[int] = []

    def failing_once(blp: Blueprint, *args: object, **kwargs: object) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("a schema apispec cannot describe")
        real(blp, *args, **kwargs)

    monkeypatch.setattr(Blueprint, "register_views_in_doc", failing_once)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    assert app.test_client().get(f"{PREFIX}/openapi.json").status_code == 500
    second = app.test_client().get(f"{PREFIX}/openapi.json")
    assert second.status_code == 200
    assert len(second.json["paths"]) >= len({route.rule for route in ROUTES})
