"""Paying invoices with points through the API: quote, hold, capture, release, refunds."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from loyalty_plugin.models import Allocation, LedgerEntry, Lot, Redemption, RedemptionStatus
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.ledger.integrity import verify_ledger
from loyalty_plugin.services.spending import redemption as service
from tests.api.conftest import invoice


def lots_left(db, account) -> list[int]:
    db.expire_all()
    return list(
        db.scalars(select(Lot.remaining).where(Lot.account_id == account.id).order_by(Lot.id))
    )


def test_quote_at_a_20_percent_cap_is_bound_by_the_share(api, customer, configure) -> None:
    """20 % of 10,000.00 at 100 points = 1.00 allows 200,000 points, bound by the share."""
    configure(max_invoice_share=Decimal(20))
    customer("42", 300_000)
    answer = api.post(
        "/checkout/quote", {"customer_id": 42, "invoice": invoice("10000.00")}, scope="read"
    )
    assert answer.status_code == 200, answer.json
    assert (answer.json["points"], answer.json["amount"], answer.json["bound_by"]) == (
        200_000,
        "2000.00",
        "max_share",
    )


def test_quote_with_a_small_balance_is_bound_by_the_balance(api, customer, configure) -> None:
    """With 1,500 points the same invoice allows 1,500, and says the balance bound it."""
    configure(max_invoice_share=Decimal(20))
    customer("42", 1_500)
    answer = api.post("/checkout/quote", {"customer_id": "42", "invoice": invoice("10000.00")})
    assert answer.json["points"] == 1_500 and answer.json["bound_by"] == "balance"
    assert answer.json["allowed"] == 200_000 and answer.json["amount"] == "15.00"


def test_hold_takes_oldest_expiry_first_and_release_restores_them(api, customer, db) -> None:
    """Lots of 100 (March), 50 (April), 200 (May): 120 takes 100 + 20; release restores them."""
    account = customer("42", 200, 100, 50, expires_in=[120, 60, 90])
    held = api.post("/redemptions", {"customer_id": "42", "points": 120, "invoice": invoice()})
    assert held.status_code == 201, held.json
    assert held.json["status"] == "held" and held.json["amount"] == "1.20"
    assert lots_left(db, account) == [200, 0, 30]
    entry = db.get(LedgerEntry, held.json["hold_entry_id"])
    assert entry.kind == "hold" and entry.amount == Decimal("1.2000") and entry.currency == "EUR"
    assert entry.details["redemption"]["rate"] == "0.01"
    released = api.post(f"/redemptions/{held.json['id']}/release", {})
    assert released.json["status"] == "released"
    assert lots_left(db, account) == [200, 100, 50]
    assert verify_ledger(db) == []


def test_capture_counts_the_points_as_redeemed_once(api, customer, db) -> None:
    """Capture makes a hold final and counts it in lifetime redeemed, once."""
    account = customer("42", 500)
    held = api.post("/redemptions", {"customer_id": "42", "points": 200, "invoice": invoice()})
    path = f"/redemptions/{held.json['id']}/capture"
    assert api.post(path, {"invoice_id": "INV-1"}).json["status"] == "captured"
    assert api.post(path, {}).json["status"] == "captured"
    db.refresh(account)
    assert account.lifetime_redeemed == 200 and account.balance == 300
    assert api.post(f"/redemptions/{held.json['id']}/release", {}).status_code == 409
    assert verify_ledger(db) == []


def test_hold_refused_beyond_the_balance_with_409(api, customer) -> None:
    """Asking for more points than the customer has: 409 insufficient_points on points."""
    customer("42", 100)
    answer = api.post("/redemptions", {"customer_id": "42", "points": 101, "invoice": invoice()})
    assert answer.status_code == 409
    assert answer.json["error"]["code"] == "insufficient_points"
    assert "points" in answer.json["error"]["fields"]


def test_hold_refused_beyond_a_cap_with_422(api, customer, configure) -> None:
    """A cap other than the balance answers 422 naming points and the cap."""
    configure(max_points_per_invoice=50)
    customer("42", 1000)
    answer = api.post("/redemptions", {"customer_id": "42", "points": 60, "invoice": invoice()})
    assert answer.status_code == 422
    assert "max_points_per_invoice" in answer.json["error"]["message"]


def test_full_mode_takes_all_or_nothing(api, customer, configure) -> None:
    """In full mode a hold must take everything the caps allow."""
    configure(redemption_mode="full", max_invoice_share=Decimal(50))
    customer("42", 10_000)
    part = api.post("/redemptions", {"customer_id": "42", "points": 10, "invoice": invoice()})
    assert part.status_code == 422
    whole = api.post("/redemptions", {"customer_id": "42", "invoice": invoice()})
    assert whole.status_code == 201 and whole.json["points"] == 5_000


def test_excluded_products_tax_and_shipping(api, customer, configure) -> None:
    """Excluded lines, tax and shipping are not payable unless the merchant allows them."""
    configure(excluded_category_ids=["gift-cards"], pay_shipping_with_points=True)
    customer("42", 100_000)
    draft = {
        "id": "INV-9",
        "currency": "EUR",
        "subtotal": "80.00",
        "tax_total": "20.00",
        "shipping_total": "5.00",
        "total": "105.00",
        "items": [
            {"id": "1", "product_id": "coffee", "category_id": "food", "total": "60.00"},
            {"id": "2", "product_id": "card", "category_id": "gift-cards", "total": "20.00"},
        ],
    }
    answer = api.post("/checkout/quote", {"customer_id": "42", "invoice": draft})
    assert answer.json["eligible_amount"] == "65.00"
    assert (answer.json["points"], answer.json["bound_by"]) == (6_500, "eligible_amount")


def test_foreign_currency_uses_the_exchange_rate(api, customer) -> None:
    """An invoice in USD is valued through its rate to the merchant's EUR."""
    customer("42", 1_000)
    draft = invoice("20.00", currency="USD", exchange_rate="0.5")
    answer = api.post("/checkout/quote", {"customer_id": "42", "invoice": draft})
    assert (answer.json["points"], answer.json["amount"], answer.json["rate"]) == (
        1_000,
        "20.00",
        "0.02",
    )
    missing = api.post("/checkout/quote", {"customer_id": "42", "invoice": invoice(currency="USD")})
    assert missing.status_code == 422
    assert "invoice.exchange_rate" in missing.json["error"]["fields"]


def test_refund_returns_points_to_their_lots_and_expired_ones_expire_again(customer, db) -> None:
    """A refund gives back the refunded share; points of a lot expired since expire again."""
    now = utcnow()
    account = customer("42", 100, 100, expires_in=[10, 100], now=now)
    held = service.hold_points(
        db,
        merchant_id="shop",
        customer_id="42",
        invoice=_draft(),
        points=150,
        now=now,
        actor="t",
    )
    service.capture_redemption(
        db, merchant_id="shop", redemption_id=held.id, invoice_id="INV-1", now=now, actor="t"
    )
    db.commit()
    later = now + timedelta(days=20)
    first = service.return_points_for_refund(
        db, merchant_id="shop", invoice_id="INV-1", share=Decimal("0.4"), now=later, actor="t"
    )
    again = service.return_points_for_refund(
        db, merchant_id="shop", invoice_id="INV-1", share=Decimal("0.4"), now=later, actor="t"
    )
    db.commit()
    assert [r.points for r in first] == [60] and again == []
    # 50 of the 60 go back to the later lot; 10 to the lot expired since, and expire again.
    assert first[0].points_expired_again == -10
    assert lots_left(db, account) == [0, 100]
    db.refresh(account)
    assert account.lifetime_redeemed == 90 and account.balance == 100
    assert verify_ledger(db) == []


def test_cancelled_invoice_releases_holds_and_returns_captured_points(customer, db) -> None:
    """invoice.cancelled releases what is held and returns what was captured, once."""
    now = utcnow()
    account = customer("42", 500, now=now)
    draft = _draft()
    captured = service.hold_points(
        db, merchant_id="shop", customer_id="42", invoice=draft, points=100, now=now, actor="t"
    )
    service.capture_redemption(
        db, merchant_id="shop", redemption_id=captured.id, invoice_id=None, now=now, actor="t"
    )
    held = service.hold_points(
        db,
        merchant_id="shop",
        customer_id="42",
        invoice=_draft("INV-2"),
        points=50,
        now=now,
        actor="t",
    )
    db.commit()
    for invoice_id in ("INV-1", "INV-2", "INV-1"):
        service.release_redemptions_for_invoice(
            db, merchant_id="shop", invoice_id=invoice_id, now=now, actor="t"
        )
    db.commit()
    db.refresh(account)
    assert account.balance == 500 and account.lifetime_redeemed == 0
    assert db.get(Redemption, held.id).status == RedemptionStatus.RELEASED
    assert verify_ledger(db) == []


def test_stale_holds_are_released_by_the_job(customer, db, configure) -> None:
    """A hold older than hold_minutes is released (status expired) and its points return."""
    configure(hold_minutes=30)
    now = utcnow()
    account = customer("42", 100, now=now)
    held = service.hold_points(
        db, merchant_id="shop", customer_id="42", invoice=_draft(), points=80, now=now, actor="t"
    )
    db.commit()
    assert service.release_stale_holds(db, now=now + timedelta(minutes=29)) == []
    released = service.release_stale_holds(db, now=now + timedelta(minutes=31))
    db.commit()
    assert [r.id for r in released] == [held.id]
    assert released[0].status == RedemptionStatus.EXPIRED
    db.refresh(account)
    assert account.balance == 100
    kinds = db.scalars(
        select(LedgerEntry.kind)
        .where(LedgerEntry.account_id == account.id)
        .order_by(LedgerEntry.id)
    )
    assert list(kinds) == ["earn", "hold", "release"]
    assert db.scalar(select(Allocation.points).order_by(Allocation.id.desc()).limit(1)) == 80


def test_a_second_hold_on_the_same_invoice_is_refused(api, customer) -> None:
    """One active hold per invoice: release it before holding again."""
    customer("42", 500)
    first = api.post("/redemptions", {"customer_id": "42", "points": 10, "invoice": invoice()})
    second = api.post("/redemptions", {"customer_id": "42", "points": 10, "invoice": invoice()})
    assert first.status_code == 201 and second.status_code == 409
    assert "invoice.id" in second.json["error"]["fields"]


def _draft(invoice_id: str = "INV-1"):
    from loyalty_plugin.domain.redemption import DraftInvoice

    return DraftInvoice(id=invoice_id, currency="EUR", total=Decimal("1000.00"))
