"""Customers on first sight through the API: a write naming an unknown customer creates them."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from loyalty_plugin.models import Customer
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.earning.programs import create_default_program
from tests.api.conftest import invoice


@pytest.fixture(autouse=True)
def default_program(db, shop) -> None:
    """The shop has the default program every merchant starts with (50 on registration)."""
    create_default_program(db, merchant_id="shop", now=utcnow())
    db.commit()


def known(db) -> set[str]:
    db.expire_all()
    return set(db.scalars(select(Customer.host_customer_id)))


def test_an_adjustment_for_an_unknown_customer_creates_them(api, db) -> None:
    """A credit for a customer never announced: created, registered, credited."""
    body = {"customer_id": "99", "points": 5, "reason": "welcome gift", "staff": "ann"}
    made = api.post("/adjustments", body)
    assert made.status_code == 201, made.json
    saved = db.scalars(select(Customer).where(Customer.host_customer_id == "99")).one()
    assert (saved.profile_pending, saved.enrolled) == (True, True)
    read = api.get("/customers/99").json
    assert read["accounts"][0]["balance"] == 50 + 5
    assert read["profile_pending"] is True


def test_a_quote_for_an_unknown_customer_answers_and_stores_nothing(api, db) -> None:
    """A quote is read-only: it answers for the customer as first sight would make them."""
    answer = api.post("/checkout/quote", {"customer_id": "99", "invoice": invoice()}, scope="read")
    assert answer.status_code == 200, answer.json
    assert (answer.json["points"], answer.json["bound_by"]) == (50, "balance")
    assert known(db) == set()
    assert api.get("/customers/99").status_code == 404


def test_a_hold_for_an_unknown_customer_creates_them_and_uses_their_bonus(api, db) -> None:
    """The registration bonus of a customer first seen at checkout can pay at once."""
    held = api.post("/redemptions", {"customer_id": "99", "invoice": invoice()})
    assert held.status_code == 201, held.json
    assert held.json["points"] == 50
    assert known(db) == {"99"}


def test_with_first_sight_off_an_unknown_customer_is_404(api, db, configure) -> None:
    """create_unknown_customers off: 404 naming customer_id, and nothing is created."""
    configure(create_unknown_customers=False)
    for path, body in (
        ("/redemptions", {"customer_id": "99", "invoice": invoice()}),
        ("/coupons", {"customer_id": "99", "points": 100}),
        ("/adjustments", {"customer_id": "99", "points": 5, "reason": "r", "staff": "ann"}),
    ):
        answer = api.post(path, body)
        assert answer.status_code == 404, (path, answer.json)
        assert "create_unknown_customers" in answer.json["error"]["message"]
        assert "customer_id" in answer.json["error"]["fields"]
    assert db.scalar(select(func.count()).select_from(Customer)) == 0


def test_first_sight_settings_are_read_and_changed_like_the_others(api) -> None:
    """GET/PATCH /settings carry the three settings; a bad value names its field."""
    read = api.get("/settings", scope="admin").json
    assert (read["create_unknown_customers"], read["auto_enrol"]) == (True, True)
    assert read["waiting_report_hours"] == 24
    changes = {"create_unknown_customers": False, "auto_enrol": False, "waiting_report_hours": 6}
    changed = api.patch("/settings", changes)
    assert changed.status_code == 200, changed.json
    assert {k: changed.json[k] for k in changes} == changes
    refused = api.patch("/settings", {"waiting_report_hours": 0})
    assert refused.status_code == 422 and "waiting_report_hours" in refused.json["error"]["fields"]
    refused = api.patch("/settings", {"auto_enrol": "yes please"})
    assert refused.status_code == 422 and "auto_enrol" in refused.json["error"]["fields"]
