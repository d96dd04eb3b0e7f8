"""GET and PATCH /settings answer amounts alike on every database (#13)."""

from __future__ import annotations


def test_settings_amounts_read_back_as_patched_on_every_database(api) -> None:
    """Amounts keep their cents and drop other trailing zeros, as ``loyalty config export``
    writes them: PostgreSQL's ``1.5000`` and SQLite's ``1.5`` are both ``1.50``."""
    patched = api.patch(
        "/settings",
        {
            "conversion_amount": "1.5",
            "coupon_amount": 2,
            "max_invoice_share": "20",
            "coupon_packages": [{"points": 500, "amount": "5"}],
        },
    )
    assert patched.status_code == 200, patched.json
    read = api.get("/settings", scope="admin").json
    assert read == patched.json
    amounts = ("conversion_amount", "coupon_amount", "max_invoice_share")
    assert [read[name] for name in amounts] == ["1.50", "2.00", "20.00"]
    assert read["coupon_packages"] == [{"points": 500, "amount": "5.00"}]
