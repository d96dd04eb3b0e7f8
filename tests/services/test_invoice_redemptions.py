"""A hold taken at checkout is settled by the invoice's own events, once per invoice."""

# ruff: noqa: F811 - the end-to-end fixtures (host, db) are shared with the programs tests

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty_plugin.models import Account
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.ledger.integrity import verify_ledger
from loyalty_plugin.services.merchants.api_keys import create_api_key
from loyalty_plugin.services.spending import redemption
from tests.services.test_earning_rules_webhooks import API, Host, db, host, paid  # noqa: F401


@pytest.fixture
def write_key(host: Host, db: Session) -> str:
    _row, token = create_api_key(db, merchant_id="shop", scope="write", name="w", now=utcnow())
    db.commit()
    return token


def hold(host: Host, key: str, invoice_id: str, points: int) -> Any:
    invoice = {"id": invoice_id, "currency": "EUR", "subtotal": "100.00", "total": "100.00"}
    return host.client.post(
        f"{API}/redemptions",
        json={"customer_id": "c1", "points": points, "invoice": invoice},
        headers={"Authorization": f"Bearer {key}", "Idempotency-Key": str(uuid.uuid4())},
    )


def account(db: Session) -> Account:
    db.expire_all()
    return db.scalars(select(Account)).one()


def test_paid_invoice_captures_its_hold_without_naming_it(host, db, write_key) -> None:
    """invoice.paid without a redemption_id still makes the invoice's hold final."""
    host.program()
    host.send("invoice.paid", paid("INV-0", "1000.00"))
    held = hold(host, write_key, "INV-1", 50)
    assert held.status_code == 201, held.json
    result = host.send("invoice.paid", paid("INV-1", "100.00"))
    assert result["redemption"]["status"] == "captured"
    released = redemption.release_stale_holds(db, now=utcnow() + timedelta(days=30))
    db.commit()
    assert released == []
    settled = account(db)
    assert settled.lifetime_redeemed == 50
    assert verify_ledger(db) == []


def test_an_invoice_paid_with_points_takes_no_second_hold(host, db, write_key) -> None:
    """After capture, a new hold on the same invoice is refused: the caps apply once."""
    host.program()
    host.send("invoice.paid", paid("INV-0", "1000.00"))
    first = hold(host, write_key, "INV-1", 20)
    assert first.status_code == 201, first.json
    host.send("invoice.paid", paid("INV-1", "99.80"))  # after the points discount
    second = hold(host, write_key, "INV-1", 20)
    assert second.status_code == 409
    assert second.json["error"]["fields"] == {"invoice.id": [second.json["error"]["message"]]}
    # 20 points paid 0.20 of the invoice; the other 99.80 earned 9 points
    assert account(db).balance == 100 - 20 + 9


def test_part_paid_with_a_points_coupon_does_not_earn(host, db, write_key) -> None:
    """A coupon bought with points pays like points: that part of the invoice earns nothing."""
    host.program()
    host.send("invoice.paid", paid("INV-0", "1000.00"))
    headers = {"Authorization": f"Bearer {write_key}"}
    coupon = host.client.post(
        f"{API}/coupons",
        json={"customer_id": "c1", "points": 100},
        headers=headers | {"Idempotency-Key": "c-1"},
    ).json
    used = host.client.post(
        f"{API}/coupons/{coupon['code']}/redeem",
        json={"invoice_id": "INV-1", "customer_id": "c1"},
        headers=headers | {"Idempotency-Key": "c-2"},
    )
    assert used.status_code == 200, used.json
    # The coupon (100 points, 1.00) took 1.00 off: the host sends 99.00, and 99.00 earns.
    result = host.send("invoice.paid", paid("INV-1", "99.00"))
    assert result["points_earned"] == 9
    assert result["paid_with_points"] == {"amount": "1.00", "counted": False}


def test_stale_hold_job_skips_a_hold_captured_meanwhile(host, db, write_key, monkeypatch) -> None:
    """A hold captured after the job listed it is left alone; the other stale holds go."""
    host.program()
    host.send("invoice.paid", paid("INV-0", "1000.00"))
    first = hold(host, write_key, "INV-1", 10).json
    second = hold(host, write_key, "INV-2", 10).json
    release = redemption.release_redemption

    def captured_just_before(session, *, redemption_id, **kwargs):
        if redemption_id == first["id"]:  # the host's invoice.paid wins the race
            redemption.capture_redemption(
                session,
                merchant_id="shop",
                redemption_id=first["id"],
                invoice_id="INV-1",
                now=utcnow(),
                actor="t",
            )
        return release(session, redemption_id=redemption_id, **kwargs)

    monkeypatch.setattr(redemption, "release_redemption", captured_just_before)
    released = redemption.release_stale_holds(db, now=utcnow() + timedelta(days=30))
    db.commit()
    assert [r.id for r in released] == [second["id"]]
    assert account(db).lifetime_redeemed == 10
    assert verify_ledger(db) == []


def points_discount(host: Host, key: str, invoice_id: str) -> str:
    """Hold 1,000 points on a 100.00 invoice; the discount the API says to apply."""
    held = host.client.post(
        f"{API}/redemptions",
        json={
            "customer_id": "c1",
            "points": 1000,
            "invoice": {"id": invoice_id, "currency": "EUR", "total": "100.00"},
        },
        headers={"Authorization": f"Bearer {key}", "Idempotency-Key": str(uuid.uuid4())},
    )
    assert held.status_code == 201, held.json
    return held.json["amount"]


@pytest.mark.parametrize(
    ("points_payments_earn", "earned"), [(False, 9), (True, 10)], ids=["default", "counted"]
)
def test_an_invoice_sent_after_its_points_discount_is_settled_once(
    host, db, write_key, points_payments_earn, earned
) -> None:
    """A 100.00 invoice with a 10.00 points discount, sent as 90.00 as the docs say, earns on
    90.00 (9 points), or on 100.00 (10) when the program lets points payments earn; the
    answer says how much was paid with points and whether it counted."""
    host.program(earning={"points_payments_earn": points_payments_earn})
    host.send("invoice.paid", paid("INV-0", "10000.00"))
    assert points_discount(host, write_key, "INV-1") == "10.00"
    result = host.send("invoice.paid", paid("INV-1", "90.00"))
    assert result["redemption"]["status"] == "captured"
    assert result["points_earned"] == earned
    assert result["paid_with_points"] == {"amount": "10.00", "counted": points_payments_earn}
    assert verify_ledger(db) == []
