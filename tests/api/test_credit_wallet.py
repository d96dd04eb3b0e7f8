"""The store credit wallet setting (#19): read and written with the other settings,
validated (422 at the field), audited."""

from __future__ import annotations

from sqlalchemy import select

from loyalty_plugin.models import AuditEntry
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.ledger.accounts import open_account


def test_a_merchant_enables_a_credit_wallet_in_its_currencies(api, db) -> None:
    """Codes are checked with Babel, upper-cased and kept once; the change is audited."""
    assert api.get("/settings", scope="admin").json["credit_currencies"] == []
    patched = api.patch("/settings", {"credit_currencies": ["eur", "USD", "EUR"]})
    assert patched.status_code == 200, patched.json
    assert patched.json["credit_currencies"] == ["EUR", "USD"]
    assert api.get("/settings", scope="admin").json["credit_currencies"] == ["EUR", "USD"]
    audit = db.scalars(select(AuditEntry).where(AuditEntry.action == "settings.updated")).one()
    assert (audit.before, audit.after) == (
        {"credit_currencies": []},
        {"credit_currencies": ["EUR", "USD"]},
    )
    off = api.patch("/settings", {"credit_currencies": []})
    assert off.json["credit_currencies"] == []


def test_an_unknown_currency_is_refused_at_the_field(api) -> None:
    """``XYZ`` (no currency), ``XTS`` (for tests only) and a non-list answer 422, unchanged."""
    api.patch("/settings", {"credit_currencies": ["EUR"]})
    for bad, field in (
        (["EUR", "XYZ"], "credit_currencies.1"),
        (["XTS"], "credit_currencies.0"),
        ("EUR", "credit_currencies"),
        ([7], "credit_currencies.0"),
    ):
        answer = api.patch("/settings", {"credit_currencies": bad})
        assert answer.status_code == 422, (bad, answer.json)
        assert list(answer.json["error"]["fields"]) == [field], answer.json
    assert api.get("/settings", scope="admin").json["credit_currencies"] == ["EUR"]


def test_the_customer_answer_shows_credit_apart_from_points(api, db, customer) -> None:
    """Credit per currency as decimal strings beside the points; a points-only customer
    (and merchant) answers ``"credit": []`` and the same points as before."""
    ana = customer("42", 100)
    points_only = api.get("/customers/42").json["accounts"][0]
    assert points_only["credit"] == []
    credit = open_account(db, merchant_id="shop", customer_id=ana.customer_id, unit="EUR")
    earned = ledger.earn(db, account_id=credit.id, points=1050, now=utcnow(), actor="test")
    ledger.spend(db, account_id=credit.id, points=50, now=utcnow(), actor="test")
    ledger.reverse(db, entry_id=earned.id, points=1000, now=utcnow(), actor="test",
                   shortfall_as_debt=True)  # fmt: skip
    db.commit()
    answer = api.get("/customers/42").json["accounts"][0]
    assert answer == points_only | {
        "credit": [
            {"currency": "EUR", "balance": "0.00", "available": "0.00", "pending": "0.00",
             "lifetime_earned": "0.50", "lifetime_redeemed": "0.50", "owed": "0.00"}
        ]
    }  # fmt: skip
