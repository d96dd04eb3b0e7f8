"""``GET``/``PATCH /merchant``: name, time zone (zoneinfo), e-mail locale; the currency
changes only while the merchant has no ledger entries."""

from __future__ import annotations

from sqlalchemy import select

from loyalty_plugin.models import AuditEntry


def test_particulars_change_and_the_currency_locks_with_the_first_entry(api, customer, db):
    shown = api.get("/merchant", scope="admin").json
    assert (shown["currency"], shown["timezone"], shown["currency_changeable"]) == (
        "EUR",
        "UTC",
        True,
    )
    changed = api.patch(
        "/merchant",
        {"name": "Shop Lisboa", "timezone": "Europe/Lisbon", "locale": "pt_PT", "currency": "usd"},
    )
    assert changed.status_code == 200, changed.json
    assert changed.json | {"id": "shop"} == {
        "id": "shop",
        "name": "Shop Lisboa",
        "currency": "USD",
        "timezone": "Europe/Lisbon",
        "locale": "pt_PT",
        "currency_changeable": True,
    }
    bad_zone = api.patch("/merchant", {"timezone": "Europe/Atlantis"})
    assert bad_zone.status_code == 422 and "timezone" in bad_zone.json["error"]["fields"]
    bad_locale = api.patch("/merchant", {"locale": "xx_YY"})
    assert bad_locale.status_code == 422 and "locale" in bad_locale.json["error"]["fields"]
    customer("42", 100, merchant_id="shop")
    locked = api.patch("/merchant", {"currency": "EUR"})
    assert locked.status_code == 409
    assert locked.json["error"]["fields"]["currency"] == [
        "the currency cannot change once points were recorded: the ledger's amounts and "
        "reports are in USD"
    ]
    assert api.get("/merchant", scope="admin").json["currency_changeable"] is False
    (audit,) = db.scalars(select(AuditEntry).where(AuditEntry.action == "merchant.updated"))
    assert audit.before == {"name": "Shop", "currency": "EUR", "timezone": "UTC"}
    assert audit.after["timezone"] == "Europe/Lisbon"
    assert api.patch("/merchant", {"name": "X"}, scope="write").status_code == 403
