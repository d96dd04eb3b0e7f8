"""The ``review-levels`` job and earnings on the same accounts at once, with real threads,
separate sessions and real commits: every earning lands, nothing escapes as an error, one
membership per account, the level its amount says, one history row per real move."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.levels import level_for
from loyalty_plugin.jobs.levels import run_reviews
from loyalty_plugin.models import InvoiceEarning, LevelHistory, Membership
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.plugins import bind_session, make_plugin_manager
from loyalty_plugin.services.intake.webhooks import IntakeSettings, process_host_event
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.ledger.accounts import account_for_host_customer
from loyalty_plugin.services.levels import memberships as levels
from tests.conftest import make_engine
from tests.levels.conftest import TEN, TIERS, Host

pytestmark = pytest.mark.concurrency

CUSTOMERS = 12
INVOICES = 3  # per customer, 7,000.00 each: bronze, then silver, then gold
EARNERS = 6


@pytest.fixture
def wide_engine(database_url: str) -> Iterator[sa.Engine]:
    """An engine whose pool lets every thread hold its own connection at once."""
    engine = make_engine(database_url, pool_size=EARNERS + 4)
    yield engine
    engine.dispose()


@pytest.fixture
def slow_review(monkeypatch: pytest.MonkeyPatch) -> None:
    """Widen the review's window between reading amounts and locking memberships."""
    locked = levels._locked_memberships

    def slowly(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.02)
        return locked(*args, **kwargs)

    monkeypatch.setattr(levels, "_locked_memberships", slowly)


def paid(customer: str, invoice: str) -> dict[str, Any]:
    data = {"id": invoice, "customer": {"id": customer, "first_name": "Ana"},
            "currency": "EUR", "total": "7000.00",
            "items": [{"id": "L1", "qty": 1, "total": "7000.00"}]}  # fmt: skip
    return {"type": "invoice.paid", "occurred_at": utcnow().isoformat(), "merchant_id": "shop",
            "data": {"invoice": data}}  # fmt: skip


def earn_all(engine: sa.Engine, events: list[dict[str, Any]]) -> list[Any]:
    """Send ``events`` from ``EARNERS`` threads, each on its own session; answers or errors."""
    pm = make_plugin_manager(entry_points=False)
    settings = IntakeSettings(default_merchant="shop")

    def one(event: dict[str, Any]) -> Any:
        with Session(engine, expire_on_commit=False) as session:
            bound = bind_session(session, pm)
            try:
                answer = process_host_event(
                    bound, event, event_id=event["data"]["invoice"]["id"], hooks=pm.hook,
                    settings=settings, now=utcnow(),
                )  # fmt: skip
            except Exception as error:
                return error
            return answer.body["status"]

    with ThreadPoolExecutor(EARNERS) as pool:
        return list(pool.map(one, events))


def review_until(engine: sa.Engine, done: threading.Event) -> list[Any]:
    """Run the review job in small batches, over and over, until ``done``; errors met."""
    errors: list[Any] = []
    while not done.is_set():
        with Session(engine, expire_on_commit=False) as session:
            try:
                run_reviews(session, now=utcnow(), batch_size=4)
            except Exception as error:
                errors.append(error)
    return errors


def race(engine: sa.Engine, events: list[dict[str, Any]]) -> tuple[list[Any], list[Any]]:
    done = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        reviews = pool.submit(review_until, engine, done)
        try:
            answers = earn_all(engine, events)
        finally:
            done.set()
        return answers, reviews.result()


def check_levels(db: Session) -> None:
    """One membership per account, at the level its amount earns, with a clean history."""
    db.rollback()
    (program,) = levels.level_programs(db, at=utcnow(), merchant_id="shop")
    amounts = levels.qualifying_amounts(db, program, at=utcnow(), accounts=None)
    memberships = db.scalars(select(Membership)).all()
    assert sorted(m.account_id for m in memberships) == sorted(amounts)
    history: dict[int, list[LevelHistory]] = defaultdict(list)
    for row in db.scalars(select(LevelHistory).order_by(LevelHistory.id)):
        history[row.account_id].append(row)
    for membership in memberships:
        amount = amounts[membership.account_id]
        assert (membership.level, membership.amount) == (
            level_for(program.scheme, amount).key,
            amount,
        )
        moves = [(row.from_level, row.to_level) for row in history[membership.account_id]]
        assert moves == [("bronze", "silver"), ("silver", "gold")], membership.account_id


@pytest.mark.backends("postgresql", "mariadb")
def test_reviews_and_earnings_on_the_same_accounts(
    host: Host, db: Session, wide_engine: sa.Engine, slow_review: None
) -> None:
    """Reviews in batches of 4 run over and over while 36 invoices earn on 12 accounts."""
    host.api("POST", "/programs", {"key": "main", "name": "Main", "status": "active",
                                   "rules": [TEN], "levels": {"tiers": TIERS}},
             scope="admin")  # fmt: skip
    events = [paid(f"c{c}", f"INV-{c}-{i}") for i in range(INVOICES) for c in range(CUSTOMERS)]
    answers, review_errors = race(wide_engine, events)
    assert answers == ["processed"] * len(events)
    assert review_errors == []
    db.rollback()
    assert db.scalar(select(func.count(InvoiceEarning.id))) == len(events)
    duplicates = db.scalar(
        select(func.count()).select_from(
            select(Membership.account_id)
            .group_by(Membership.account_id, Membership.program_id)
            .having(func.count() > 1)
            .subquery()
        )
    )
    assert duplicates == 0
    check_levels(db)


@pytest.mark.backends("postgresql", "mariadb")
def test_reviews_create_memberships_while_earnings_do(
    host: Host, db: Session, wide_engine: sa.Engine, slow_review: None
) -> None:
    """Accounts that earned before the program had levels have no membership: the review
    inserts them while earnings on the same accounts create theirs."""
    host.api("POST", "/programs", {"key": "main", "name": "Main", "status": "active",
                                   "rules": [TEN]}, scope="admin")  # fmt: skip
    first = [paid(f"c{c}", f"INV-{c}-0") for c in range(CUSTOMERS)]
    assert earn_all(wide_engine, first) == ["processed"] * CUSTOMERS
    host.api("PATCH", "/programs/main", {"levels": {"tiers": TIERS}}, scope="admin")
    later = [paid(f"c{c}", f"INV-{c}-{i}") for i in (1, 2) for c in range(CUSTOMERS)]
    answers, review_errors = race(wide_engine, later)
    assert answers == ["processed"] * len(later)
    assert review_errors == []
    check_levels(db)


@pytest.mark.backends("postgresql", "mariadb")
def test_a_review_never_trips_over_a_membership_an_earning_is_creating(
    host: Host, db: Session, wide_engine: sa.Engine
) -> None:
    """An earning has created the account's first membership and not committed yet; a
    review reaching the same account waits for it and updates that row, never inserting a
    second one (which failed on ``uq_memberships_account_id_program_id``)."""
    host.api("POST", "/programs", {"key": "main", "name": "Main", "status": "active",
                                   "rules": [TEN]}, scope="admin")  # fmt: skip
    host.pay("c0", "INV-0", "7000.00")
    host.api("PATCH", "/programs/main", {"levels": {"tiers": TIERS}}, scope="admin")
    account_id = account_for_host_customer(db, "shop", "c0").id
    (program,) = levels.level_programs(db, at=utcnow(), merchant_id="shop")
    db.rollback()
    with Session(wide_engine, expire_on_commit=False) as earning:
        ledger.lock_account(earning, account_id)
        levels.update_levels(
            earning, merchant_id="shop", account_id=account_id, now=utcnow(), actor="test"
        )
        earning.flush()

        def review() -> levels.Batch:
            with Session(wide_engine, expire_on_commit=False) as session:
                batch = levels.review_batch(
                    session, program, now=utcnow(), after_account=0, limit=10
                )
                session.commit()
                return batch

        with ThreadPoolExecutor(1) as pool:
            reviewing = pool.submit(review)
            time.sleep(1)  # the review reaches the account while the earning holds it
            earning.commit()
            assert reviewing.result(timeout=30).accounts == 1
    db.rollback()
    (membership,) = db.scalars(select(Membership)).all()
    assert (membership.account_id, membership.level, membership.amount) == (
        account_id,
        "bronze",
        Decimal("7000.00"),
    )


@pytest.mark.backends("postgresql", "mariadb")
def test_an_earning_waits_for_a_review_creating_the_membership(
    host: Host, db: Session, wide_engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other order: a review is creating the account's first membership when an
    earning reaches the account; the earning waits and updates the review's row."""
    host.api("POST", "/programs", {"key": "main", "name": "Main", "status": "active",
                                   "rules": [TEN]}, scope="admin")  # fmt: skip
    host.pay("c0", "INV-0", "7000.00")
    host.api("PATCH", "/programs/main", {"levels": {"tiers": TIERS}}, scope="admin")
    account_id = account_for_host_customer(db, "shop", "c0").id
    (program,) = levels.level_programs(db, at=utcnow(), merchant_id="shop")
    db.rollback()
    locked = threading.Event()
    read = levels._locked_memberships

    def then_pause(*args: Any, **kwargs: Any) -> Any:
        found = read(*args, **kwargs)
        locked.set()
        time.sleep(1)  # the earning reaches the account while the review holds it
        return found

    monkeypatch.setattr(levels, "_locked_memberships", then_pause)

    def earn() -> None:
        locked.wait(10)
        with Session(wide_engine, expire_on_commit=False) as earning:
            ledger.lock_account(earning, account_id)
            levels.update_levels(
                earning, merchant_id="shop", account_id=account_id, now=utcnow(), actor="test"
            )
            earning.commit()

    with ThreadPoolExecutor(1) as pool, Session(wide_engine) as reviewing:
        earning = pool.submit(earn)
        levels.review_batch(reviewing, program, now=utcnow(), after_account=0, limit=10)
        reviewing.commit()
        earning.result(timeout=30)
    db.rollback()
    assert db.scalars(select(Membership.account_id)).all() == [account_id]
