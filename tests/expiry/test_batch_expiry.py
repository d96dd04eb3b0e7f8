"""Set-based expiry: the same result as the one-account service, once per lot, in batches."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.events import PointsExpired
from loyalty_plugin.domain.expiry import ExpiryKind, ExpiryPolicy
from loyalty_plugin.domain.ledger import EntryKind
from loyalty_plugin.jobs.expiry import run_date_expiry, run_inactivity_expiry
from loyalty_plugin.models import Account, Allocation, LedgerEntry, Lot
from loyalty_plugin.services.events import attach_sink
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.ledger import expiry
from loyalty_plugin.services.ledger.integrity import verify_ledger
from tests.conftest import make_engine
from tests.expiry.conftest import EARNED

LATER = EARNED + timedelta(days=40)


def build_history(make_account, give, session, merchant: str) -> list[Account]:
    """Five accounts: lots due, not due, never due, partly spent, pending, none."""
    accounts = [make_account(merchant) for _ in range(5)]
    a, b, c, d, _e = accounts
    give(a, 100, days=10)
    give(a, 50, days=20)
    give(a, 70, days=90)
    give(b, 30, days=39)
    give(b, 40)
    give(c, 500, days=60)
    give(d, 80, days=5)
    give(d, 20, days=30)
    ledger.spend(session, account_id=d.id, points=90, now=EARNED + timedelta(days=1), actor="t")
    ledger.earn(
        session,
        account_id=c.id,
        points=9,
        now=EARNED,
        actor="t",
        available_from=LATER + timedelta(days=1),
        expires_at=LATER + timedelta(days=2),
    )
    session.commit()
    return accounts


def snapshot(session: Session, accounts: list[Account]) -> list[tuple]:
    """What expiry changed, per account, independent of ids."""
    session.expire_all()
    result = []
    for account in accounts:
        account = session.get(Account, account.id)
        entries = session.scalars(
            select(LedgerEntry)
            .where(LedgerEntry.account_id == account.id, LedgerEntry.kind == EntryKind.EXPIRE)
            .order_by(LedgerEntry.id)
        ).all()
        lots = session.scalars(
            select(Lot).where(Lot.account_id == account.id).order_by(Lot.id)
        ).all()
        moves = [
            sorted((lots.index(session.get(Lot, m.lot_id)), m.points) for m in entry.allocations)
            for entry in entries
        ]
        result.append(
            (
                account.balance,
                account.lifetime_expired,
                account.updated_at if entries else None,
                [
                    (e.points, e.balance_after, e.actor, e.reason, e.created_at, e.details)
                    for e in entries
                ],
                moves,
                [lot.remaining for lot in lots],
            )
        )
    return result


def test_batch_expiry_matches_the_one_account_service(session, make_account, give) -> None:
    """Entries, allocations, lots, balances and counters equal expire_due_lots' own."""
    one_by_one = build_history(make_account, give, session, "one")
    in_sets = build_history(make_account, give, session, "set")
    for account in one_by_one:
        ledger.expire_due_lots(session, account_id=account.id, now=LATER)
    session.commit()
    totals = run_date_expiry(session, now=LATER, batch_size=2)
    assert (totals.accounts, totals.lots, totals.points) == (3, 4, 150 + 30 + 10)
    assert snapshot(session, in_sets) == snapshot(session, one_by_one)
    assert snapshot(session, in_sets)[0][:2] == (70, 150)
    assert verify_ledger(session) == []


def test_each_lot_expires_once_however_often_it_runs(session, make_account, give) -> None:
    """Running the expiry again (or with tiny batches) never expires a lot twice."""
    accounts = build_history(make_account, give, session, "shop")
    first = run_date_expiry(session, now=LATER, batch_size=1)
    again = run_date_expiry(session, now=LATER + timedelta(minutes=5), batch_size=1)
    assert (first.accounts, first.batches, again.accounts, again.lots) == (3, 3, 0, 0)
    per_lot = session.execute(
        select(Allocation.lot_id, func.count())
        .join(LedgerEntry, LedgerEntry.id == Allocation.entry_id)
        .where(LedgerEntry.kind == EntryKind.EXPIRE)
        .group_by(Allocation.lot_id)
    ).all()
    assert sorted(count for _, count in per_lot) == [1, 1, 1, 1]
    session.expire_all()
    assert [session.get(Account, a.id).balance for a in accounts] == [70, 40, 509, 0, 0]
    assert verify_ledger(session) == []


class Recorder:
    """An event sink that keeps what was published."""

    def __init__(self) -> None:
        self.events: list = []

    def record(self, session, event) -> None:
        self.events.append(event)

    def deliver(self, event) -> None:
        pass


def test_each_account_gets_one_expired_event(session, make_account, give) -> None:
    """Every entry written is announced as PointsExpired with the balance after it."""
    a, b = make_account("shop", "alice"), make_account("shop", "bob")
    give(a, 10, days=1)
    give(a, 15, days=2)
    give(b, 5, days=3)
    give(b, 1)
    recorder = Recorder()
    attach_sink(session, recorder)
    run_date_expiry(session, now=LATER)
    assert [(e.customer_id, e.points, e.balance) for e in recorder.events] == [
        ("alice", 25, 0),
        ("bob", 5, 1),
    ]
    assert all(isinstance(e, PointsExpired) and e.occurred_at == LATER for e in recorder.events)


def test_idle_accounts_lose_all_their_points(session, make_account, give, now) -> None:
    """With inactivity expiry on, an account idle for N months loses every point, once."""
    idle, active = make_account("shop"), make_account("shop")
    session.execute(sa.update(Account).values(created_at=EARNED))
    give(idle, 300)
    give(idle, 20, days=800)
    give(active, 50)
    ledger.spend(
        session, account_id=active.id, points=5, now=EARNED + timedelta(days=300), actor="t"
    )
    expiry.set_expiry_policy(
        session,
        merchant_id="shop",
        policy=ExpiryPolicy(inactivity_months=12),
        now=EARNED,
        actor="staff:ana",
    )
    session.commit()
    moment = EARNED + timedelta(days=400)
    first = run_inactivity_expiry(session, now=moment)
    again = run_inactivity_expiry(session, now=moment)
    assert (first.accounts, first.lots, first.points, again.accounts) == (1, 2, 320, 0)
    session.expire_all()
    assert (session.get(Account, idle.id).balance, session.get(Account, active.id).balance) == (
        0,
        45,
    )
    entry = session.scalars(select(LedgerEntry).where(LedgerEntry.kind == EntryKind.EXPIRE)).one()
    assert entry.reason == "no points earned or spent for 12 months"
    assert entry.details == {"policy": "inactivity", "months": 12}
    assert verify_ledger(session) == []


def test_new_points_get_the_merchants_expiry(session, make_account) -> None:
    """Points earned under an end-of-year policy expire at the merchant's new year."""
    make_account("shop")
    assert expiry.expiry_for_new_points(session, merchant_id="shop", earned_at=EARNED) is None
    policy = ExpiryPolicy(kind=ExpiryKind.END_OF_YEAR, extra_months=3, reminder_days=(60, 14))
    expiry.set_expiry_policy(session, merchant_id="shop", policy=policy, now=EARNED, actor="t")
    session.commit()
    assert expiry.expiry_policy(session, "shop") == policy
    expires = expiry.expiry_for_new_points(session, merchant_id="shop", earned_at=EARNED)
    assert expires.isoformat() == "2027-04-01T00:00:00+00:00"


@pytest.mark.concurrency
@pytest.mark.backends("postgresql", "mariadb")
def test_two_workers_at_once_expire_each_lot_once(
    session, make_account, give, database_url
) -> None:
    """Two expiry runs racing over the same lots: every lot once, one entry per account."""
    accounts = [make_account("shop") for _ in range(40)]
    for account in accounts:
        give(account, 10, days=1)
        give(account, 5, days=2)
        give(account, 1)
    engine = make_engine(database_url, pool_size=4)
    barrier = threading.Barrier(2)
    results = []

    def worker() -> None:
        with Session(engine, expire_on_commit=False) as own:
            barrier.wait()
            results.append(run_date_expiry(own, now=LATER, batch_size=6))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    engine.dispose()
    assert sum(r.accounts for r in results) == 40
    assert sum(r.lots for r in results) == 80
    entries = session.scalar(select(func.count()).where(LedgerEntry.kind == EntryKind.EXPIRE))
    assert entries == 40
    session.expire_all()
    assert {session.get(Account, a.id).balance for a in accounts} == {1}
    assert verify_ledger(session) == []
