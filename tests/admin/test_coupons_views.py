"""The Coupons screen with the test client: search by code and status, pages, and a
manager cancelling an unused coupon (points back once); the same answers as the API."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from flask import Flask
from sqlalchemy import select

from loyalty_plugin.domain.coupons import CouponKind, CouponValue
from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import Account, AuditEntry, Coupon, Customer
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.spending import coupons
from tests.admin.conftest import ensure_merchant

FIVE_EUR = CouponValue(kind=CouponKind.AMOUNT, amount=Decimal("5.00"), currency="EUR")


def coupon_bought(app: Flask, host_id: str = "42", *, name: str = "Marta Silva") -> str:
    """A customer of ``shop`` with 800 points who turned 500 of them into a coupon: its code."""
    with app.app_context():
        ensure_merchant("shop")
        session = get_session()
        first, _, last = name.partition(" ")
        person = Customer(
            merchant_id="shop", host_customer_id=host_id, first_name=first, last_name=last
        )
        session.add(person)
        session.flush()
        account = Account(merchant_id="shop", customer_id=person.id)
        session.add(account)
        session.flush()
        now = utcnow()
        ledger.earn(
            session, account_id=account.id, points=800, now=now - timedelta(days=1), actor="t"
        )
        coupon = coupons.buy_coupon(
            session,
            account=account,
            points=500,
            value=FIVE_EUR,
            expires_at=now + timedelta(days=60),
            now=now,
            actor="t",
        )
        session.commit()
        return coupon.code


def campaign_coupons(app: Flask, count: int) -> list[str]:
    """``count`` coupons of a "Summer" campaign (prefix SUMMER), newest last."""
    with app.app_context():
        ensure_merchant("shop")
        session = get_session()
        _c, made = coupons.create_campaign(
            session,
            merchant_id="shop",
            name="Summer",
            count=count,
            value=FIVE_EUR,
            now=utcnow(),
            actor="t",
            prefix="summer",
        )
        session.commit()
        return [c.code for c in made]


def _balance(app: Flask) -> int:
    with app.app_context():
        return get_session().scalars(select(Account.balance)).one()


def test_a_code_is_found_as_typed_and_lists_page(app, admin_client) -> None:
    """Any case, without dashes; statuses filter; 25 a page with the query kept."""
    code = coupon_bought(app)
    campaign_coupons(app, 30)
    clerk = admin_client(role="staff")
    page = clerk.get(clerk.m("/coupons"), query_string={"q": code.replace("-", "").lower()})
    assert page.status_code == 200
    assert page.data.count(b"data-coupon=") == 1 and code.encode() in page.data
    assert b"Marta Silva" in page.data and b"1 coupon found" in page.data
    assert b"Cancel and return" not in page.data  # staff read only
    first = clerk.get(clerk.m("/coupons"), query_string={"q": "summer"})
    assert first.data.count(b"data-coupon=") == 25 and b"Page 1 of 2" in first.data
    assert b"q=summer&amp;page=2" in first.data
    second = clerk.get(clerk.m("/coupons"), query_string={"q": "summer", "page": "2"})
    assert second.data.count(b"data-coupon=") == 5
    none = clerk.get(clerk.m("/coupons"), query_string={"status": "redeemed"})
    assert b"No coupon matches." in none.data
    bad = clerk.get(clerk.m("/coupons"), query_string={"status": "lost"})
    assert bad.status_code == 422 and b'id="f-status-error"' in bad.data


def test_a_manager_cancels_a_coupon_and_the_points_come_back(app, admin_client) -> None:
    """One click: 500 points back, audited under the manager; a double submit changes once."""
    code = coupon_bought(app)
    assert _balance(app) == 300
    manager = admin_client(role="manager")
    listing = manager.get(manager.m("/coupons"))
    assert b"Cancel and return 500 points" in listing.data
    form = {"form_key": "once", "reason": ""}
    done = manager.post(manager.m(f"/coupons/{code}/cancel"), data=form)
    assert done.status_code == 303
    again = manager.post(manager.m(f"/coupons/{code}/cancel"), data=form)
    assert again.status_code == 303
    assert _balance(app) == 800
    shown = manager.get(done.headers["Location"])
    assert f"Coupon {code} is cancelled. 500 points went back to the customer.".encode() in (
        shown.data
    )
    assert b"status-cancelled" in shown.data
    refused = manager.post(manager.m(f"/coupons/{code}/cancel"), data={"form_key": "other"})
    assert refused.status_code == 409
    assert b"Coupon cannot be cancelled: the coupon is cancelled." in refused.data
    assert _balance(app) == 800
    with app.app_context():
        session = get_session()
        (audit,) = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "coupon.cancelled")
        )
        assert (audit.actor_kind, audit.actor_name) == ("staff", manager.staff.name)
        assert session.scalars(select(Coupon.status)).one() == "cancelled"


def test_staff_may_not_cancel_and_an_unknown_code_is_404(app, admin_client) -> None:
    code = coupon_bought(app)
    clerk = admin_client(role="staff")
    assert clerk.post(clerk.m(f"/coupons/{code}/cancel"), data={}).status_code == 403
    manager = admin_client(role="manager")
    missing = manager.post(manager.m("/coupons/NOPE-NOPE-NOPE/cancel"), data={})
    assert missing.status_code == 404 and b"No such coupon." in missing.data
    assert manager.post(manager.m(f"/coupons/{code}/cancel"), data={}, csrf="").status_code == 400
    assert _balance(app) == 300
