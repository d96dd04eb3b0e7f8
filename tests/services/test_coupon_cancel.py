"""Cancelling an unused coupon: its points come back once, as a new ledger entry; a used,
expired or cancelled coupon is refused; a cancellation racing a redemption, one wins."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.coupons import CouponKind, CouponStatus, CouponValue
from loyalty_plugin.domain.errors import InvalidOperation
from loyalty_plugin.domain.ledger import EntryKind
from loyalty_plugin.models import Account, AuditEntry, Coupon, LedgerEntry
from loyalty_plugin.services.audit import Actor
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.ledger.integrity import verify_ledger
from loyalty_plugin.services.spending import coupons
from loyalty_plugin.services.transaction import run_in_transaction
from tests.services.test_concurrency import wide_engine  # noqa: F401

FIVE_EUR = CouponValue(kind=CouponKind.AMOUNT, amount=Decimal("5.00"), currency="EUR")
ANA = Actor.staff(7, "Ana")


def bought(session: Session, account: Account, now: datetime, *, days: int = 30) -> Coupon:
    """A coupon bought with 100 of the account's 300 points."""
    ledger.earn(session, account_id=account.id, points=300, now=now, actor="test")
    coupon = coupons.buy_coupon(
        session,
        account=account,
        points=100,
        value=FIVE_EUR,
        expires_at=now + timedelta(days=days),
        now=now,
        actor="test",
    )
    session.commit()
    return coupon


def cancel(session: Session, code: str, now: datetime, **extra) -> Coupon:
    done = coupons.cancel_coupon(
        session, merchant_id="shop", code=code, now=now, actor=ANA, **extra
    )
    session.commit()
    return done


def test_cancelling_returns_the_points_as_a_new_entry(session, make_account, now) -> None:
    """The coupon's 100 points come back in a reverse entry; the redeem entry is untouched."""
    account = make_account()
    coupon = bought(session, account, now)
    assert session.get(Account, account.id).balance == 200
    done = cancel(session, coupon.code.lower(), now + timedelta(hours=1), reason="asked by phone")
    assert done.status == CouponStatus.CANCELLED
    session.expire_all()
    assert session.get(Account, account.id).balance == 300
    back = session.get(LedgerEntry, done.refund_entry_id)
    assert (back.kind, back.points, back.reverses_entry_id) == (
        EntryKind.REVERSE,
        100,
        coupon.entry_id,
    )
    assert "cancelled" in back.reason and "asked by phone" in back.reason
    assert session.get(LedgerEntry, coupon.entry_id).points == -100
    assert ledger.points_set_aside(session, account.id) == 0
    (audit,) = session.scalars(select(AuditEntry).where(AuditEntry.action == "coupon.cancelled"))
    assert (audit.target_id, audit.actor_name) == (coupon.code, "Ana")
    assert audit.after["points_returned"] == 100
    assert verify_ledger(session) == []


def test_a_campaign_coupon_is_cancelled_without_points(session, make_account, now) -> None:
    """A promotion's coupon cost nothing: it is cancelled and no entry is written."""
    make_account()
    _campaign, (coupon,) = coupons.create_campaign(
        session, merchant_id="shop", name="Promo", count=1, value=FIVE_EUR, now=now, actor="t"
    )
    session.commit()
    entries = session.scalar(select(LedgerEntry.id).order_by(LedgerEntry.id.desc()).limit(1))
    done = cancel(session, coupon.code, now)
    assert (done.status, done.refund_entry_id) == (CouponStatus.CANCELLED, None)
    assert session.scalar(select(LedgerEntry.id).order_by(LedgerEntry.id.desc()).limit(1)) == (
        entries
    )


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ("redeemed", "coupon cannot be cancelled: the coupon is redeemed"),
        ("expired", "coupon cannot be cancelled: the coupon has expired"),
        ("cancelled", "coupon cannot be cancelled: the coupon is cancelled"),
    ],
)
def test_only_an_unused_coupon_can_be_cancelled(session, make_account, now, state, message):
    """Used, past its date or already cancelled: refused at the code, points unchanged."""
    account = make_account()
    coupon = bought(session, account, now, days=1)
    when = now + timedelta(hours=1)
    if state == "redeemed":
        coupons.redeem_coupon(session, merchant_id="shop", code=coupon.code, now=when, actor="t")
        session.commit()
    elif state == "expired":
        when = now + timedelta(days=2)
    else:
        cancel(session, coupon.code, when)
    balance = session.get(Account, account.id).balance
    with pytest.raises(InvalidOperation) as refused:
        coupons.cancel_coupon(session, merchant_id="shop", code=coupon.code, now=when, actor=ANA)
    session.rollback()
    assert (refused.value.message, refused.value.field) == (message, "code")
    session.expire_all()
    assert session.get(Account, account.id).balance == balance


def test_a_repeated_form_answers_the_cancelled_coupon(session, make_account, now) -> None:
    """The same one-time key twice: the second answers the coupon; points come back once."""
    account = make_account()
    coupon = bought(session, account, now)
    first = cancel(session, coupon.code, now, request_key="k1")
    again = cancel(session, coupon.code, now, request_key="k1")
    assert first.id == again.id and again.status == CouponStatus.CANCELLED
    session.expire_all()
    assert session.get(Account, account.id).balance == 300
    with pytest.raises(InvalidOperation):
        coupons.cancel_coupon(
            session, merchant_id="shop", code=coupon.code, now=now, actor=ANA, request_key="k2"
        )
    session.rollback()
    audits = session.scalars(select(AuditEntry).where(AuditEntry.action == "coupon.cancelled"))
    assert len(list(audits)) == 1


def test_search_finds_a_code_as_typed_and_filters_by_status(session, make_account, now) -> None:
    """Whole code in any case, its start, a campaign prefix; by status; numbered pages."""
    account = make_account()
    mine = bought(session, account, now)
    _campaign, promo = coupons.create_campaign(
        session,
        merchant_id="shop",
        name="Summer",
        count=3,
        value=FIVE_EUR,
        now=now,
        actor="t",
        prefix="summer",
    )
    session.commit()
    cancel(session, promo[0].code, now)

    def codes(**where) -> list[str]:
        found = coupons.search_coupons(session, merchant_id="shop", **where)
        return [c.code for c in found.rows]

    assert codes(code=mine.code.replace("-", " ").lower()) == [mine.code]
    assert codes(code=mine.code[:6].replace("-", "")) == [mine.code]
    assert sorted(codes(code="summer")) == sorted(c.code for c in promo)
    assert codes(code="summer", status=CouponStatus.CANCELLED) == [promo[0].code]
    assert codes(code="NOTHING") == []
    paged = coupons.search_coupons(session, merchant_id="shop", per_page=2, page=2)
    assert (paged.total, paged.pages, paged.page, len(paged.rows)) == (4, 2, 2, 2)
    past_end = coupons.search_coupons(session, merchant_id="shop", per_page=2, page=9)
    assert past_end.page == 2


def race_two(engine: sa.Engine, work: Callable[[Session, int], str]) -> list[object]:
    """``work(session, 0)`` and ``work(session, 1)`` in two threads released together."""
    barrier = threading.Barrier(2)

    def one(number: int) -> object:
        with Session(engine, expire_on_commit=False) as session:
            barrier.wait()
            try:
                return run_in_transaction(session, lambda s: work(s, number), attempts=5)
            except Exception as error:
                return error

    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(one, range(2)))


@pytest.mark.backends("postgresql", "mariadb")
def test_cancel_and_redeem_at_once_never_both_succeed(
    session,
    make_account,
    now,
    wide_engine,  # noqa: F811
) -> None:
    """Real threads, one cancelling and one redeeming the same code, ten times: exactly one
    wins each time, and the points come back only when the cancellation won."""
    account = make_account()
    ledger.earn(session, account_id=account.id, points=10_000, now=now, actor="test")
    session.commit()
    outcomes = []
    for _ in range(10):
        coupon = coupons.buy_coupon(
            session, account=account, points=100, value=FIVE_EUR, expires_at=None, now=now,
            actor="test",
        )  # fmt: skip
        session.commit()

        def work(s: Session, number: int, code: str = coupon.code) -> str:
            if number:
                coupons.redeem_coupon(s, merchant_id="shop", code=code, now=now, actor="till")
                return "redeemed"
            coupons.cancel_coupon(s, merchant_id="shop", code=code, now=now, actor=ANA)
            return "cancelled"

        results = race_two(wide_engine, work)
        won = [r for r in results if isinstance(r, str)]
        lost = [r for r in results if isinstance(r, InvalidOperation)]
        assert len(won) == 1 and len(lost) == 1, results
        session.expire_all()
        stored = session.get(Coupon, coupon.id)
        assert stored.status == won[0]
        assert (stored.refund_entry_id is not None) == (won[0] == "cancelled")
        outcomes.append(won[0])
    redeemed = outcomes.count("redeemed")
    assert session.get(Account, account.id).balance == 10_000 - 100 * redeemed
    assert verify_ledger(session) == []
