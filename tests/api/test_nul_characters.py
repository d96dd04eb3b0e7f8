"""NUL characters, which no database text column stores, are refused up front."""

from sqlalchemy import func, select

from loyalty_plugin.models import LedgerEntry


def test_nul_in_a_path_is_not_found(api) -> None:
    """An id with a NUL is simply unknown: 404, not a database error."""
    for path in ("/customers/%00", "/coupons/A%00B"):
        answer = api.get(path)
        assert answer.status_code == 404, (path, answer.json)


def test_nul_in_a_body_names_the_field(api, customer, db) -> None:
    """A string with a NUL is a 422 naming its field, and nothing is written."""
    customer("42", 100)
    answer = api.post(
        "/adjustments",
        {"customer_id": "42", "points": 5, "reason": "a\u0000b", "staff": "ann"},
        scope="write",
    )
    assert answer.status_code == 422, answer.json
    assert "reason" in answer.json["error"]["fields"]
    assert db.scalar(select(func.count()).select_from(LedgerEntry)) == 1
