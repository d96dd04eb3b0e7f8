"""``/api/v1/programs``: the admin API the admin pages build on, and the ledger's breakdown."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from loyalty_plugin.database import engine_options
from loyalty_plugin.domain.rules import InvoiceView, LineView
from loyalty_plugin.models import Customer, Merchant
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.earning.by_program import earn_on_invoice
from loyalty_plugin.services.merchants.api_keys import create_api_key

PREFIX = "/loyalty/api/v1"
TEN = {"kind": "per_amount", "points": "1", "per": "10"}


@pytest.fixture
def db(database_url: str, engine: sa.Engine) -> Iterator[Session]:
    """A committing session on a plain engine (no SQLite write lock held between requests)."""
    plain = sa.create_engine(database_url, **engine_options(database_url))
    with Session(plain, expire_on_commit=False) as session:
        yield session
    plain.dispose()


@pytest.fixture
def keys(app: Flask, db: Session) -> dict[str, str]:
    """An admin, a write and a read key of merchant ``shop`` (EUR)."""
    db.add(Merchant(id="shop", name="Shop", currency="EUR"))
    db.flush()
    made = {}
    for scope in ("admin", "write", "read"):
        _row, made[scope] = create_api_key(
            db, merchant_id="shop", scope=scope, name=scope, now=utcnow()
        )
    db.commit()
    return made


@pytest.fixture
def call(client: Any, keys: dict[str, str]) -> Any:
    def call_(method: str, path: str, body: Any = None, scope: str = "admin") -> Any:
        headers = {"Authorization": f"Bearer {keys[scope]}"}
        return client.open(PREFIX + path, method=method, json=body, headers=headers)

    return call_


def test_create_activate_change_and_list_versions(call: Any) -> None:
    """The full life of a program through the API, each change answered as JSON."""
    created = call("POST", "/programs", {"key": "main", "name": "Main", "rules": [TEN]})
    assert created.status_code == 201, created.json
    assert (created.json["status"], created.json["version"]) == ("draft", 1)
    assert created.json["earning"]["rounding"] == "down"
    active = call("POST", "/programs/main/activate", {})
    assert active.json["status"] == "active"
    changed = call(
        "PATCH",
        "/programs/main",
        {"rules": [{**TEN, "points": "2"}], "effective_from": "2030-01-01T00:00:00+00:00"},
    )
    assert changed.status_code == 200, changed.json
    assert (changed.json["version"], changed.json["effective_from"]) == (
        2,
        "2030-01-01T00:00:00+00:00",
    )
    versions = call("GET", "/programs/main/versions").json["data"]
    assert [(v["version"], v["settings"]["rules"][0]["points"]) for v in versions] == [
        (1, "1"),
        (2, "2"),
    ]
    listed = call("GET", "/programs").json["data"]
    assert [(p["key"], p["version"]) for p in listed] == [("main", 2)]
    archived = call("POST", "/programs/main/archive")
    assert archived.json["status"] == "archived"
    refused = call("PATCH", "/programs/main", {"pending_days": 1})
    assert (refused.status_code, refused.json["error"]["code"]) == (409, "invalid_operation")


def test_invalid_programs_get_422_naming_each_field(call: Any) -> None:
    """Validation errors come back in the error shape, one path per problem."""
    answer = call(
        "POST",
        "/programs",
        {"key": "x", "name": "X", "rules": [{"kind": "per_amount", "points": 0.5, "per": 0}]},
    )
    assert answer.status_code == 422
    error = answer.json["error"]
    assert error["code"] == "invalid_program"
    assert set(error["fields"]) == {"rules.0.per"}
    typo = call("POST", "/programs", {"key": "y", "name": "Y", "earnings": {}})
    assert typo.json["error"]["fields"] == {"earnings": ["Unknown field."]}


def test_programs_need_an_admin_key(call: Any) -> None:
    """A write key cannot manage programs; an unknown program is 404."""
    assert call("GET", "/programs", scope="write").status_code == 403
    assert call("GET", "/programs/nope").status_code == 404


def test_the_openapi_document_lists_the_program_routes(client: Any, keys: Any) -> None:
    """Program endpoints are described with the rest of the API."""
    paths = client.get(PREFIX + "/openapi.json").json["paths"]
    assert {"/loyalty/api/v1/programs", "/loyalty/api/v1/programs/{key}/versions"} <= set(paths)


def test_the_ledger_endpoint_returns_each_entrys_breakdown(call: Any, db: Session) -> None:
    """Points earned under a program read back from the API with version, rule and line."""
    call("POST", "/programs", {"key": "main", "name": "Main", "status": "active", "rules": [TEN]})
    customer = Customer(merchant_id="shop", host_customer_id="c1", first_name="Ana")
    db.add(customer)
    db.flush()
    bill = InvoiceView(
        id="INV-1",
        currency="EUR",
        total=Decimal("250.00"),
        lines=(LineView(id="L1", qty=Decimal(1), amount=Decimal("250.00")),),
    )
    earn_on_invoice(
        db, merchant_id="shop", customer=customer, invoice=bill, now=utcnow(), actor="test",
        paid_in_full=True,
    )  # fmt: skip
    db.commit()
    entries = call("GET", "/customers/c1/ledger", scope="read").json["data"]
    details = entries[0]["details"]
    assert (entries[0]["points"], details["program"]["key"], details["program"]["version"]) == (
        25,
        "main",
        1,
    )
    assert [(b["rule"], b["line"], b["points"]) for b in details["breakdown"]] == [
        ("per_amount", "L1", 25)
    ]
