"""The store credit wallet setting (#19): read and written with the other settings,
validated (422 at the field), audited."""

from __future__ import annotations

from sqlalchemy import select

from loyalty_plugin.models import AuditEntry


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
