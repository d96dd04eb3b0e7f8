"""Paying invoices with store credit beside points through the API (#19, phase 2): the
credit cap setting, the quote's ``credit`` offer, holds of both units and bad input."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from loyalty_plugin.models import Account, AuditEntry, LedgerEntry, Redemption
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.ledger.accounts import open_account
from loyalty_plugin.services.ledger.integrity import verify_ledger
from tests.api.conftest import invoice


@pytest.fixture
def ana(db, customer, configure) -> tuple[Account, Account]:
    """Customer 42 of a EUR wallet merchant: 1,000 points and 30.00 of credit."""
    configure(credit_currencies=["EUR"])
    points = customer("42", 1000)
    credit = open_account(db, merchant_id="shop", customer_id=points.customer_id, unit="EUR")
    ledger.earn(db, account_id=credit.id, points=3000, now=utcnow(), actor="test")
    db.commit()
    return points, credit


def balances(db, *accounts: Account) -> list[int]:
    db.expire_all()
    return [db.get(Account, account.id).balance for account in accounts]


def test_the_credit_cap_is_a_setting_validated_and_audited(api, db) -> None:
    """``credit_max_invoice_share`` defaults to 100, takes 0 to 100, and is audited."""
    assert api.get("/settings", scope="admin").json["credit_max_invoice_share"] == "100.00"
    patched = api.patch("/settings", {"credit_max_invoice_share": "25"})
    assert patched.status_code == 200 and patched.json["credit_max_invoice_share"] == "25.00"
    audit = db.scalars(select(AuditEntry).where(AuditEntry.action == "settings.updated")).one()
    assert list(audit.after) == ["credit_max_invoice_share"]
    for bad in ("101", "-1", "abc", None):
        answer = api.patch("/settings", {"credit_max_invoice_share": bad})
        assert answer.status_code == 422, (bad, answer.json)
        assert list(answer.json["error"]["fields"]) == ["credit_max_invoice_share"], answer.json


def test_a_points_only_quote_has_no_credit(api, customer) -> None:
    """Without a wallet the quote answers as before: no ``credit`` key."""
    customer("42", 500)
    answer = api.post("/checkout/quote", {"customer_id": "42", "invoice": invoice()})
    assert answer.status_code == 200 and "credit" not in answer.json
    refused = api.post("/checkout/quote", {"customer_id": "42", "invoice": invoice(),
                                           "credit": "1.00"})  # fmt: skip
    assert refused.status_code == 422 and list(refused.json["error"]["fields"]) == ["credit"]


def test_a_customer_without_credit_is_quoted_none_in_the_currency_s_digits(
    api, customer, configure
) -> None:
    """A wallet merchant's customer who never held credit: ``0.00`` spendable, as every
    other amount is written."""
    configure(credit_currencies=["EUR"])
    customer("42", 500)
    answer = api.post("/checkout/quote", {"customer_id": "42", "invoice": invoice()})
    assert answer.status_code == 200, answer.json
    assert (answer.json["credit"]["balance"], answer.json["credit"]["amount"]) == ("0.00", "0.00")


def test_the_quote_offers_credit_then_points_under_the_caps_on_their_sum(
    api, ana, configure
) -> None:
    """100.00 at 30 % together and 20 % credit: 20.00 credit, 1,000 points (10.00)."""
    configure(max_invoice_share=Decimal(30), credit_max_invoice_share=Decimal(20))
    answer = api.post("/checkout/quote", {"customer_id": "42", "invoice": invoice()})
    assert answer.status_code == 200, answer.json
    assert answer.json["credit"] == {
        "amount": "20.00", "currency": "EUR", "balance": "30.00", "bound_by": "credit_cap",
        "limits": {"balance": "30.00", "credit_cap": "20.00", "max_share": "30.00",
                   "eligible_amount": "100.00"},
        "total": "30.00",
    }  # fmt: skip
    assert (answer.json["points"], answer.json["amount"], answer.json["bound_by"]) == (
        1000, "10.00", "max_share",
    )  # fmt: skip
    less = api.post("/checkout/quote", {"customer_id": "42", "invoice": invoice(),
                                        "credit": "5.00"})  # fmt: skip
    assert (less.json["credit"]["amount"], less.json["credit"]["bound_by"]) == ("5.00", "requested")
    assert less.json["points"] == 1000 and less.json["bound_by"] == "balance"
    in_usd = invoice(currency="USD", exchange_rate="0.9")
    usd = api.post("/checkout/quote", {"customer_id": "42", "invoice": in_usd})
    assert usd.json["credit"]["amount"] == "0.00" and usd.json["credit"]["bound_by"] == "wallet"


def test_a_hold_takes_both_units_and_capture_makes_both_final(api, db, ana) -> None:
    """3.00 of credit and 200 points: one redemption, its credit listed apart; capture and
    a second capture act on both."""
    points, credit = ana
    held = api.post("/redemptions", {"customer_id": "42", "invoice": invoice(),
                                     "points": 200, "credit": "3.00"})  # fmt: skip
    assert held.status_code == 201, held.json
    assert (held.json["points"], held.json["amount"]) == (200, "5.00")
    [part] = held.json["credit"]
    assert (part["currency"], part["amount"], part["returned"]) == ("EUR", "3.00", "0.00")
    entry = db.get(LedgerEntry, part["hold_entry_id"])
    assert (entry.unit, entry.kind, entry.points) == ("EUR", "hold", -300)
    assert balances(db, points, credit) == [800, 2700]
    for _ in range(2):
        captured = api.post(f"/redemptions/{held.json['id']}/capture", {})
        assert captured.status_code == 200 and captured.json["status"] == "captured"
    db.expire_all()
    assert {r.status for r in db.scalars(select(Redemption))} == {"captured"}
    assert db.get(Account, credit.id).lifetime_redeemed == 300
    assert verify_ledger(db) == []


def test_a_hold_of_credit_alone_and_its_release(api, db, ana) -> None:
    """``points: 0`` with ``credit`` holds credit alone; release gives it back."""
    points, credit = ana
    held = api.post("/redemptions", {"customer_id": "42", "invoice": invoice(),
                                     "points": 0, "credit": "12.34"})  # fmt: skip
    assert held.status_code == 201, held.json
    assert (held.json["points"], held.json["amount"], held.json["values"]) == (0, "12.34", [])
    assert [p["amount"] for p in held.json["credit"]] == ["12.34"]
    assert balances(db, points, credit) == [1000, 1766]
    second = api.post("/redemptions", {"customer_id": "42", "invoice": invoice()})
    assert second.status_code == 409, second.json
    released = api.post(f"/redemptions/{held.json['id']}/release", {})
    assert released.json["status"] == "released"
    assert balances(db, points, credit) == [1000, 3000]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"credit": "50.00"}, 409, "credit"),  # more than the 30.00 held
        ({"credit": "0.001"}, 422, "credit"),  # finer than a cent
        ({"credit": "-1"}, 422, "credit"),
        ({"credit": "abc"}, 422, "credit"),
        ({"points": 0}, 422, "points"),  # 0 points only with credit
    ],
)
def test_bad_credit_is_refused_at_the_field(api, db, ana, body, status, field) -> None:
    """Each refusal names its field and holds nothing."""
    answer = api.post("/redemptions", {"customer_id": "42", "invoice": invoice()} | body)
    assert answer.status_code == status, answer.json
    assert list(answer.json["error"]["fields"]) == [field], answer.json
    assert balances(db, *ana) == [1000, 3000]


def test_credit_over_its_cap_is_refused_naming_the_cap(api, ana, configure) -> None:
    """A 10 % credit cap on 100.00: 11.00 of credit is refused; 10.00 is held."""
    configure(credit_max_invoice_share=Decimal(10))
    refused = api.post("/redemptions", {"customer_id": "42", "invoice": invoice(),
                                        "credit": "11.00"})  # fmt: skip
    assert refused.status_code == 422
    assert "credit_cap" in refused.json["error"]["message"]
    held = api.post("/redemptions", {"customer_id": "42", "invoice": invoice(),
                                     "credit": "10.00"})  # fmt: skip
    assert held.status_code == 201 and held.json["credit"][0]["amount"] == "10.00"


def test_coupons_bought_with_credit_when_the_merchant_allows(api, db, ana, configure) -> None:
    """Off by default; allowed, 7.50 of credit buys a 7.50 coupon (no points), and
    cancelling it gives the credit back; a points coupon answers as before."""
    points, credit = ana
    refused = api.post("/coupons", {"customer_id": "42", "credit": "7.50"})
    assert refused.status_code == 409 and list(refused.json["error"]["fields"]) == ["credit"]
    configure(credit_coupons=True)
    bought = api.post("/coupons", {"customer_id": "42", "credit": "7.50"})
    assert bought.status_code == 201, bought.json
    assert (bought.json["kind"], bought.json["amount"], bought.json["currency"]) == (
        "amount", "7.50", "EUR",
    )  # fmt: skip
    assert bought.json["points"] is None
    assert bought.json["credit"] == {"currency": "EUR", "amount": "7.50"}
    assert balances(db, points, credit) == [1000, 2250]
    listed = api.get("/coupons", customer_id="42").json["data"]
    assert [c["code"] for c in listed] == [bought.json["code"]]
    cancelled = api.post(f"/coupons/{bought.json['code']}/cancel", {}, scope="admin")
    assert cancelled.status_code == 200, cancelled.json
    assert balances(db, points, credit) == [1000, 3000]
    with_points = api.post("/coupons", {"customer_id": "42", "points": 100})
    assert with_points.status_code == 201 and "credit" not in with_points.json
    assert verify_ledger(db) == []


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"credit": "30.01"}, 409, "credit"),  # more than the 30.00 held
        ({"credit": "0.001"}, 422, "credit"),
        ({"credit": "0"}, 422, "credit"),
        ({"credit": "1.00", "points": 100}, 422, "credit"),
        ({"credit": "1.00", "currency": "USD"}, 422, "currency"),  # not in the wallet
        ({"currency": "EUR", "points": 100}, 422, "currency"),
        ({}, 422, "points"),
    ],
)
def test_bad_coupon_credit_is_refused_at_the_field(
    api, db, ana, configure, body, status, field
) -> None:
    """Each refusal names its field and spends nothing."""
    configure(credit_coupons=True)
    answer = api.post("/coupons", {"customer_id": "42"} | body)
    assert answer.status_code == status, answer.json
    assert list(answer.json["error"]["fields"]) == [field], answer.json
    assert balances(db, *ana) == [1000, 3000]


def test_points_turn_into_credit_at_the_merchant_rate(api, db, ana, configure) -> None:
    """Off by default; at 1,000 points for 5.00, 250 points become 1.25 of credit (the
    points leave soonest-expiring first), rounded down; credit never turns into points."""
    points, credit = ana
    refused = api.post("/credit-conversions", {"customer_id": "42", "points": 250})
    assert refused.status_code == 409 and list(refused.json["error"]["fields"]) == ["points"]
    configure(points_to_credit_points=1000, points_to_credit_amount=Decimal("5.00"))
    done = api.post("/credit-conversions", {"customer_id": "42", "points": 250})
    assert done.status_code == 201, done.json
    assert {k: done.json[k] for k in ("points", "credit", "currency", "balance")} == {
        "points": 250, "credit": "1.25", "currency": "EUR", "balance": 750,
    }  # fmt: skip
    assert done.json["credit_balance"] == "31.25"
    assert balances(db, points, credit) == [750, 3125]
    odd = api.post("/credit-conversions", {"customer_id": "42", "points": 3})
    assert odd.status_code == 201 and odd.json["credit"] == "0.01"  # 0.015, rounded down
    assert verify_ledger(db) == []


@pytest.mark.parametrize(
    ("changes", "body", "status", "field"),
    [
        ({}, {"points": 1}, 422, "points"),  # 0.005 is less than a cent
        ({}, {"points": 5000}, 409, "points"),  # more than the 1,000 held
        ({}, {"points": 0}, 422, "points"),
        ({"credit_currencies": []}, {"points": 500}, 409, "points"),  # no wallet
    ],
)
def test_bad_conversions_are_refused_at_the_field(
    api, db, ana, configure, changes, body, status, field
) -> None:
    """Each refusal names its field and moves nothing."""
    configure(points_to_credit_points=1000, points_to_credit_amount=Decimal("5.00"), **changes)
    answer = api.post("/credit-conversions", {"customer_id": "42"} | body)
    assert answer.status_code == status, answer.json
    assert list(answer.json["error"]["fields"]) == [field], answer.json
    assert balances(db, *ana) == [1000, 3000]


def test_the_conversion_rate_is_validated(api) -> None:
    """A rate of 0 points or 0.00 is refused at its field."""
    for body, field in (
        ({"points_to_credit_points": 0}, "points_to_credit_points"),
        ({"points_to_credit_amount": "0"}, "points_to_credit_amount"),
    ):
        answer = api.patch("/settings", body)
        assert answer.status_code == 422, answer.json
        assert list(answer.json["error"]["fields"]) == [field], answer.json


def test_a_conversion_s_two_events_share_one_reference(api, db, ana, configure) -> None:
    """``points.redeemed`` and ``credit.earned`` of one conversion carry the same reference
    (the host pairs them by it), as do its two ledger entries."""
    from sqlalchemy import select

    from loyalty_plugin.models import LedgerEntry, OutboxMessage, WebhookEndpoint

    db.add(WebhookEndpoint(merchant_id="shop", url="https://host.example/hook"))
    db.commit()
    configure(points_to_credit_points=1000, points_to_credit_amount=Decimal("5.00"))
    done = api.post("/credit-conversions", {"customer_id": "42", "points": 250})
    assert done.status_code == 201, done.json
    db.expire_all()
    entries = db.scalars(
        select(LedgerEntry).where(
            LedgerEntry.id.in_([done.json["points_entry_id"], done.json["credit_entry_id"]])
        )
    ).all()
    assert len({(e.reference_type, e.reference_id) for e in entries}) == 1
    entry = entries[0]
    sent = {m.event_type: m.payload["data"] for m in db.scalars(select(OutboxMessage))}
    expected = f"{entry.reference_type}:{entry.reference_id}"
    assert sent["points.redeemed"]["reference"] == sent["credit.earned"]["reference"] == expected
