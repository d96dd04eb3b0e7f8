"""``POST /customers/import`` and ``/opening-balances/import``: the documented examples,
sent as printed, give the documented answers; admin only; CSV only."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select

from loyalty_plugin.models import Customer
from loyalty_plugin.services.ledger.integrity import verify_ledger
from tests.api.conftest import PREFIX
from tests.imports.examples import example


def send(api: Any, path: str, body: str | bytes, *, scope: str = "admin", **query: Any) -> Any:
    return api.client.post(
        PREFIX + path,
        data=body.encode() if isinstance(body, str) else body,
        query_string=query,
        headers={**api.headers(scope, None), "Content-Type": "text/csv"},
    )


def test_the_documented_customers_file_imports_as_documented(api, db) -> None:
    """docs/integration.md's customers.csv, then again: created, then unchanged."""
    first = send(api, "/customers/import", example("customers.csv"))
    assert first.status_code == 200, first.get_json()
    assert first.get_json() == {
        "dry_run": False,
        "rows": 3,
        "bad_rows": 0,
        "created": 3,
        "updated": 0,
        "unchanged": 0,
        "error_count": 0,
        "errors": [],
    }
    assert send(api, "/customers/import", example("customers.csv")).get_json()["unchanged"] == 3
    chloe = db.scalars(select(Customer).where(Customer.host_customer_id == "1003")).one()
    assert (chloe.first_name, chloe.last_name, chloe.enrolled) == ("Chloé", "Martin, Jr.", False)


def test_the_documented_dry_run_answers_the_documented_errors(api, db) -> None:
    """customers-bad.csv in a dry run answers customers-bad.json and imports nothing."""
    answer = send(api, "/customers/import", example("customers-bad.csv"), dry_run="true")
    assert answer.status_code == 200
    assert answer.get_json() == json.loads(example("customers-bad.json"))
    assert db.scalar(select(func.count()).select_from(Customer)) == 0


def test_the_documented_balances_import_as_documented_and_only_once(api, db) -> None:
    """balances.csv answers balances-import.json; the same file again writes nothing."""
    send(api, "/customers/import", example("customers.csv"))
    first = send(api, "/opening-balances/import", example("balances.csv"))
    assert first.get_json() == json.loads(example("balances-import.json"))
    again = send(api, "/opening-balances/import", example("balances.csv")).get_json()
    assert (again["customers"], again["already_imported"], again["points"]) == (0, 2, 0)
    ana = api.get("/customers/1001", scope="read").get_json()
    assert ana["accounts"][0]["balance"] == 620
    db.expire_all()
    assert verify_ledger(db) == []


def test_the_api_page_example_is_the_customers_import_answer(api) -> None:
    """docs/api.md shows the answer to the documented customers file."""
    documented = json.loads(example("customers-import.json", page="api.md"))
    assert send(api, "/customers/import", example("customers.csv")).get_json() == documented


def test_imports_need_an_admin_key(api) -> None:
    """A write key may not bring customers or points in."""
    for path in ("/customers/import", "/opening-balances/import"):
        answer = send(api, path, example("customers.csv"), scope="write")
        assert answer.status_code == 403
        assert answer.get_json()["error"]["code"] == "insufficient_scope"


def test_a_body_that_is_not_csv_is_415_naming_what_to_send(api) -> None:
    """JSON (or no content type) is refused before anything is read."""
    answer = api.client.post(
        PREFIX + "/customers/import", json={"customers": []}, headers=api.headers("admin", None)
    )
    assert answer.status_code == 415
    assert answer.get_json()["error"]["fields"] == {"Content-Type": ["must be text/csv"]}


def test_a_body_that_is_not_utf8_is_422_on_body(api) -> None:
    """Latin-1 bytes are named, not a 500."""
    answer = send(api, "/customers/import", "customer_id,first_name\n1,Zoë\n".encode("latin-1"))
    assert answer.status_code == 422
    assert answer.get_json()["error"]["fields"] == {"body": [answer.get_json()["error"]["message"]]}


def test_another_merchant_is_404_and_a_bad_query_is_422(api) -> None:
    """A key learns nothing of merchants it does not cover; dry_run must be a boolean."""
    assert send(api, "/customers/import", "x", merchant_id="nobody").status_code == 404
    answer = send(api, "/customers/import", "x", dry_run="perhaps")
    assert answer.status_code == 422
    assert "dry_run" in json.dumps(answer.get_json())


def test_the_openapi_document_describes_a_csv_body(api) -> None:
    """Integrators see ``text/csv`` and the report schema."""
    paths = api.client.get(PREFIX + "/openapi.json").get_json()["paths"]
    operation = paths["/loyalty/api/v1/customers/import"]["post"]
    assert "text/csv" in operation["requestBody"]["content"]
    assert "415" in operation["responses"]
