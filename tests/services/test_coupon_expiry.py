"""Expiring coupons in batches: one guarded UPDATE per batch, refunds where the merchant says."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.coupons import CouponKind, CouponStatus, CouponValue
from loyalty_plugin.models import Account, Coupon
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.spending import coupons
from loyalty_plugin.services.spending.settings import update_settings

TEN_OFF = CouponValue(kind=CouponKind.PERCENT, percent=Decimal("10"))
FIVE_EUR = CouponValue(kind=CouponKind.AMOUNT, amount=Decimal("5.00"), currency="EUR")


@contextmanager
def counting(engine: sa.Engine) -> Iterator[list[str]]:
    """Every SQL statement the engine sends while the block runs."""
    statements: list[str] = []

    def record(_conn, _cursor, statement, _params, _context, _many) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def campaign(session: Session, now: datetime, count: int, *, merchant_id: str = "shop") -> None:
    """``count`` free coupons of ``merchant_id`` that expire in a day."""
    coupons.create_campaign(
        session,
        merchant_id=merchant_id,
        name="Promo",
        count=count,
        value=TEN_OFF,
        now=now,
        actor="test",
        expires_at=now + timedelta(days=1),
    )
    session.commit()


def bought(session: Session, account: Account, now: datetime) -> Coupon:
    """A coupon bought with 100 of the account's points, valid for a day."""
    ledger.earn(session, account_id=account.id, points=300, now=now, actor="test")
    coupon = coupons.buy_coupon(
        session,
        account=account,
        points=100,
        value=FIVE_EUR,
        expires_at=now + timedelta(days=1),
        now=now,
        actor="test",
    )
    session.commit()
    return coupon


def expire(session: Session, now: datetime, **options: int) -> list[Coupon]:
    expired = coupons.expire_coupons(session, now=now + timedelta(days=2), **options)
    session.commit()
    return expired


def statements_to_expire(session: Session, now: datetime, count: int) -> int:
    campaign(session, now, count)
    with counting(session.get_bind()) as statements:
        assert len(expire(session, now)) == count
    session.execute(sa.delete(Coupon))
    session.commit()
    return len(statements)


def test_a_batch_of_200_coupons_expires_in_constant_statements(session, make_account, now) -> None:
    """Expiring 200 coupons sends as many statements as expiring 2: no query per coupon."""
    make_account()
    few = statements_to_expire(session, now, 2)
    many = statements_to_expire(session, now, 200)
    assert many == few <= 3


def test_only_active_coupons_past_their_expiry_are_expired(session, make_account, now) -> None:
    """Redeemed, not yet due and never-expiring coupons are left alone."""
    make_account()
    campaign(session, now, 3)
    late = coupons.create_campaign(
        session,
        merchant_id="shop",
        name="Later",
        count=1,
        value=TEN_OFF,
        now=now,
        actor="test",
        expires_at=now + timedelta(days=30),
    )[1][0]
    forever = coupons.create_campaign(
        session, merchant_id="shop", name="Always", count=1, value=TEN_OFF, now=now, actor="t"
    )[1][0]
    session.commit()
    used = session.scalars(
        select(Coupon).where(Coupon.expires_at == now + timedelta(days=1)).order_by(Coupon.id)
    ).first()
    coupons.redeem_coupon(session, merchant_id="shop", code=used.code, now=now, actor="t")
    session.commit()

    expired = expire(session, now)

    assert len(expired) == 2 and all(c.status == CouponStatus.EXPIRED for c in expired)
    statuses = {
        code: status for code, status in session.execute(select(Coupon.code, Coupon.status))
    }
    assert statuses[used.code] == CouponStatus.REDEEMED
    assert statuses[late.code] == statuses[forever.code] == CouponStatus.ACTIVE
    assert expire(session, now) == []


def test_batches_respect_the_limit_and_a_rerun_finishes(session, make_account, now) -> None:
    """``limit`` caps a batch, oldest first; the next batch takes the rest."""
    make_account()
    campaign(session, now, 5)
    first = expire(session, now, limit=3)
    second = expire(session, now, limit=3)
    assert len(first) == 3 and len(second) == 2
    assert max(c.id for c in first) < min(c.id for c in second)
    assert expire(session, now, limit=3) == []


def test_refunds_follow_each_merchants_setting(session, make_account, now) -> None:
    """Points come back for the merchant who asked for it, once; not for the other one."""
    refunding, keeping = make_account("shop"), make_account("other")
    update_settings(
        session, merchant_id="shop", changes={"coupon_refund_on_expiry": True}, now=now, actor="t"
    )
    session.commit()
    paid_back, kept = bought(session, refunding, now), bought(session, keeping, now)
    campaign(session, now, 2)

    expired = expire(session, now)

    assert {c.code for c in expired} >= {paid_back.code, kept.code}
    session.refresh(refunding)
    session.refresh(keeping)
    session.refresh(paid_back)
    session.refresh(kept)
    assert refunding.balance == 300 and paid_back.refund_entry_id is not None
    assert keeping.balance == 200 and kept.refund_entry_id is None


def test_expiry_refunds_lock_the_points_account_before_the_credit_account(
    session, make_account, now, monkeypatch
) -> None:
    """A coupon bought with store credit before one bought with points: the refunds still
    lock the customer's points account first, as every other writer does (#19), so the job
    cannot deadlock with a hold or a conversion of the same customer."""
    from loyalty_plugin.services.ledger.accounts import open_account
    from loyalty_plugin.services.spending.credit_coupons import buy_coupon_with_credit

    points = make_account()
    changes = {"coupon_refund_on_expiry": True, "coupon_valid_days": 1,
               "credit_currencies": ["EUR"], "credit_coupons": True}  # fmt: skip
    update_settings(session, merchant_id="shop", changes=changes, now=now, actor="t")
    credit = open_account(session, merchant_id="shop", customer_id=points.customer_id, unit="EUR")
    ledger.earn(session, account_id=credit.id, points=1000, now=now, actor="test")
    host_id = points.customer.host_customer_id
    by_credit = buy_coupon_with_credit(session, merchant_id="shop", customer_id=host_id,
                                       amount=Decimal("5.00"), now=now, actor="test")  # fmt: skip
    session.commit()
    by_points = bought(session, points, now)
    assert by_credit.id < by_points.id
    locked: list[int] = []
    real = ledger.lock_account

    def recording(s: Session, account_id: int) -> Account:
        locked.append(account_id)
        return real(s, account_id)

    monkeypatch.setattr(ledger, "lock_account", recording)
    expire(session, now)
    assert locked and locked[0] == points.id, (locked, points.id, credit.id)
    session.refresh(points)
    session.refresh(credit)
    assert (points.balance, credit.balance) == (300, 1000)
