"""Store credit expiry (#19): ``credit_expiry_months`` in ``/settings``, never by default,
validated at the field, audited."""

from __future__ import annotations

from sqlalchemy import select

from loyalty_plugin.models import AuditEntry


def test_credit_never_expires_until_the_merchant_says_so(api, db) -> None:
    """``null`` by default; 12 is kept and audited; ``null`` turns it off again."""
    assert api.get("/settings", scope="admin").json["credit_expiry_months"] is None
    patched = api.patch("/settings", {"credit_expiry_months": 12})
    assert patched.status_code == 200, patched.json
    assert patched.json["credit_expiry_months"] == 12
    assert api.get("/settings", scope="admin").json["credit_expiry_months"] == 12
    audit = db.scalars(select(AuditEntry).where(AuditEntry.action == "settings.updated")).one()
    assert (audit.before, audit.after) == (
        {"credit_expiry_months": None},
        {"credit_expiry_months": 12},
    )
    off = api.patch("/settings", {"credit_expiry_months": None})
    assert off.json["credit_expiry_months"] is None


def test_a_bad_credit_expiry_is_refused_at_the_field(api) -> None:
    """0, 121, 1.5, "12" and true answer 422 at ``credit_expiry_months``, unchanged."""
    api.patch("/settings", {"credit_expiry_months": 6})
    for bad in (0, 121, 1.5, "12", True):
        answer = api.patch("/settings", {"credit_expiry_months": bad})
        assert answer.status_code == 422, (bad, answer.json)
        assert list(answer.json["error"]["fields"]) == ["credit_expiry_months"], answer.json
    assert api.get("/settings", scope="admin").json["credit_expiry_months"] == 6
