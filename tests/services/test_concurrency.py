"""Real commits on separate connections: points are never spent twice, keys never used twice."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.errors import InsufficientPoints
from loyalty_plugin.models import LedgerEntry
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.ledger.integrity import verify_ledger
from loyalty_plugin.services.transaction import run_in_transaction
from tests.conftest import make_engine


@pytest.fixture
def wide_engine(clean_engine: sa.Engine, database_url: str):
    """An engine whose pool lets every thread hold its own connection at once."""
    engine = make_engine(database_url, pool_size=40)
    yield engine
    engine.dispose()


def race(engine: sa.Engine, threads: int, work: Callable[[Session], object]) -> list[object]:
    """Run ``work`` in ``threads`` threads released together; each result or exception."""
    barrier = threading.Barrier(threads)

    def one(_: int) -> object:
        with Session(engine, expire_on_commit=False) as session:
            barrier.wait()
            try:
                return run_in_transaction(session, work, attempts=5)
            except Exception as error:
                return error

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, range(threads)))


def test_32_threads_never_spend_a_point_twice(session, make_account, now, wide_engine) -> None:
    """32 threads spend 10 points 5 times each from 100: exactly 10 succeed, never below 0."""
    account = make_account()
    ledger.earn(session, account_id=account.id, points=100, now=now, actor="t")
    session.commit()

    def spend_five_times(s: Session) -> list[object]:
        outcomes = []
        for _ in range(5):
            try:
                outcomes.append(
                    run_in_transaction(
                        s,
                        lambda s2: (
                            ledger.spend(
                                s2, account_id=account.id, points=10, now=now, actor="race"
                            ).id
                        ),
                    )
                )
            except InsufficientPoints as error:
                outcomes.append(error)
        return outcomes

    results = race(wide_engine, 32, spend_five_times)
    outcomes = [o for r in results for o in r]  # type: ignore[union-attr]
    spent = [o for o in outcomes if isinstance(o, int)]
    refused = [o for o in outcomes if isinstance(o, InsufficientPoints)]
    assert (len(spent), len(refused), len(set(spent))) == (10, 150, 10)
    session.expire_all()
    assert session.get(type(account), account.id).balance == 0
    lowest = session.scalar(
        select(func.min(LedgerEntry.balance_after)).where(LedgerEntry.account_id == account.id)
    )
    assert lowest == 0
    assert verify_ledger(session) == []


def test_20_threads_with_one_idempotency_key_write_one_entry(
    session, make_account, now, wide_engine
) -> None:
    """The same earn sent by 20 threads at once under one key: one entry, one answer."""
    account = make_account()

    def earn(s: Session) -> int:
        return ledger.earn(
            s,
            account_id=account.id,
            points=25,
            now=now,
            actor="race",
            idempotency_key="invoice:7:earn",
        ).id

    results = race(wide_engine, 20, earn)
    assert all(isinstance(r, int) for r in results), results
    assert len(set(results)) == 1
    count = session.scalar(select(func.count()).where(LedgerEntry.account_id == account.id))
    session.expire_all()
    assert (count, session.get(type(account), account.id).balance) == (1, 25)
