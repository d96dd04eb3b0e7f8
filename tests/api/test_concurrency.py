"""Requests racing through the API with real commits: no point held twice, no coupon used twice."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import func, select

from loyalty_plugin.models import Coupon, Redemption, RedemptionStatus
from loyalty_plugin.services.ledger.integrity import verify_ledger
from tests.api.conftest import PREFIX, invoice


@pytest.fixture
def app(wide_app):
    """Every test here runs on the app with a wide connection pool."""
    return wide_app


def race(app: Any, threads: int, request: Callable[[Any, int], Any]) -> list[Any]:
    """Send ``threads`` requests at once, each from its own client; their responses."""
    barrier = threading.Barrier(threads)

    def one(number: int) -> Any:
        client = app.test_client()
        barrier.wait()
        return request(client, number)

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, range(threads)))


def test_32_concurrent_holds_never_hold_more_than_the_balance(app, keys, customer, db) -> None:
    """32 holds of 100 against 1,000 points: 10 succeed, 22 get 409 insufficient_points."""
    account = customer("42", 1_000)
    headers = {"Authorization": f"Bearer {keys['write']}"}

    def hold(client: Any, number: int) -> Any:
        body = {"customer_id": "42", "points": 100, "invoice": invoice() | {"id": f"INV-{number}"}}
        return client.post(
            f"{PREFIX}/redemptions",
            json=body,
            headers=headers | {"Idempotency-Key": str(uuid.uuid4())},
        )

    answers = race(app, 32, hold)
    codes = sorted(a.status_code for a in answers)
    assert codes == [201] * 10 + [409] * 22
    losers = [a.json["error"] for a in answers if a.status_code == 409]
    assert {e["code"] for e in losers} == {"insufficient_points"}
    assert all("points" in e["fields"] for e in losers)
    held = db.scalar(
        select(func.sum(Redemption.points)).where(Redemption.status == RedemptionStatus.HELD)
    )
    db.refresh(account)
    assert held == 1_000 and account.balance == 0
    assert verify_ledger(db) == []


def test_a_coupon_redeemed_by_20_threads_succeeds_once(app, keys, customer, db) -> None:
    """20 simultaneous redemptions of one code: exactly one succeeds."""
    customer("42", 800)
    client = app.test_client()
    auth = {"Authorization": f"Bearer {keys['write']}"}
    code = client.post(
        f"{PREFIX}/coupons",
        json={"customer_id": "42", "points": 500},
        headers=auth | {"Idempotency-Key": "make"},
    ).json["code"]

    def redeem(client: Any, number: int) -> Any:
        return client.post(
            f"{PREFIX}/coupons/{code}/redeem", json={"invoice_id": f"INV-{number}"}, headers=auth
        )

    codes = sorted(a.status_code for a in race(app, 20, redeem))
    assert codes == [200] + [409] * 19
    assert db.scalars(select(Coupon.status).where(Coupon.code == code)).one() == "redeemed"


def test_one_idempotency_key_sent_8_times_at_once_holds_once(app, keys, customer, db) -> None:
    """Concurrent repeats of one key: one hold; the others replay it or are told to wait."""
    customer("42", 1_000)
    headers = {"Authorization": f"Bearer {keys['write']}", "Idempotency-Key": "same"}
    body = {"customer_id": "42", "points": 100, "invoice": invoice()}
    answers = race(
        app, 8, lambda client, _n: client.post(f"{PREFIX}/redemptions", json=body, headers=headers)
    )
    assert {a.status_code for a in answers} <= {201, 409}
    assert all(
        a.json["error"]["code"] == "idempotency_key_in_use" for a in answers if a.status_code == 409
    )
    assert db.scalar(select(func.count(Redemption.id))) == 1


@pytest.mark.parametrize("threads", [4, 32])
def test_concurrent_adjustments_on_one_account_queue(app, keys, customer, db, threads) -> None:
    """Simultaneous credits and debits on one account all apply (no deadlock) and add up."""
    account = customer("42", 1_000)
    headers = {"Authorization": f"Bearer {keys['write']}"}

    def adjust(client: Any, number: int) -> Any:
        points = 10 if number % 2 else -5
        body = {"customer_id": "42", "points": points, "reason": f"r{number}", "staff": "ann"}
        return client.post(
            f"{PREFIX}/adjustments",
            json=body,
            headers=headers | {"Idempotency-Key": str(uuid.uuid4())},
        )

    started = time.monotonic()
    answers = race(app, threads, adjust)
    elapsed = time.monotonic() - started
    codes = [a.status_code for a in answers]
    print(f"{threads} adjustments: {codes.count(500)} x 500 in {elapsed:.2f} s")
    assert codes == [201] * threads
    db.refresh(account)
    assert account.balance == 1_000 + (threads // 2) * 10 - (threads // 2) * 5
    assert verify_ledger(db) == []


def test_eight_customers_holding_one_invoice_at_once_get_one_hold(app, keys, customer, db) -> None:
    """8 customers hold points on one invoice at the same moment: one 201, seven 409."""
    accounts = [customer(f"c{n}", 1_000) for n in range(8)]
    headers = {"Authorization": f"Bearer {keys['write']}"}

    def hold(client: Any, number: int) -> Any:
        body = {"customer_id": f"c{number}", "points": 100, "invoice": invoice()}
        return client.post(
            f"{PREFIX}/redemptions",
            json=body,
            headers=headers | {"Idempotency-Key": str(uuid.uuid4())},
        )

    answers = race(app, 8, hold)
    assert sorted(a.status_code for a in answers) == [201] + [409] * 7
    losers = [a.json["error"] for a in answers if a.status_code == 409]
    assert all(list(e["fields"]) == ["invoice.id"] for e in losers), losers
    held = db.scalars(select(Redemption).where(Redemption.status == RedemptionStatus.HELD)).all()
    assert [r.invoice_id for r in held] == ["INV-1"]
    for account in accounts:
        db.refresh(account)
    assert sorted(a.balance for a in accounts) == [900] + [1_000] * 7
    assert verify_ledger(db) == []
