"""``GET /customers?q=``: the customer search over the API, scoped to the key's merchant."""

from __future__ import annotations

from sqlalchemy.orm import Session

from loyalty_plugin.models import Customer


def test_search_finds_by_name_and_pages(api, customer, db: Session) -> None:
    """A read key finds the merchant's customers by name prefix, paged by number."""
    for host_id in ("1", "2", "3"):
        customer(host_id, 100)
    customer("9", 5, merchant_id="other")
    db.query(Customer).filter_by(host_customer_id="2").update({"last_name": "Silva"})
    db.commit()
    first = api.get("/customers", q="ana", limit=2)
    assert first.status_code == 200, first.json
    assert [row["customer_id"] for row in first.json["data"]] == ["3", "2"]
    assert first.json["next_page"] == 2
    assert first.json["data"][0]["balance"] == 100
    second = api.get("/customers", q="ana", limit=2, page=2)
    assert [row["customer_id"] for row in second.json["data"]] == ["1"]
    assert second.json["next_page"] is None
    assert [r["name"] for r in api.get("/customers", q="SILVA").json["data"]] == ["Ana Silva"]


def test_bad_search_arguments_are_422_at_their_field(api, shop) -> None:
    """Too long a query, page 0 or an unknown key are refused with the field named."""
    for query, field in (({"q": "x" * 101}, "q"), ({"page": 0}, "page"), ({"limit": 500}, "limit")):
        answer = api.get("/customers", **query)
        assert answer.status_code == 422
        assert field in answer.json["error"]["fields"]


def test_search_needs_a_key(api, shop) -> None:
    """No key, no customers."""
    assert api.get("/customers", scope=None).status_code == 401
