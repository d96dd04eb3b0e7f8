"""Jobs run for one merchant (issue 15): its share only, and never twice with the scheduler.

"Run now" on the admin's Jobs screen (and ``loyalty jobs run NAME --merchant M``) runs a
job with ``JobContext.merchant_id``; the scheduler runs it for everyone at the same time.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from loyalty_plugin.domain.ledger import EntryKind
from loyalty_plugin.jobs.overview import run_for_merchant
from loyalty_plugin.jobs.runner import JobRunner
from loyalty_plugin.models import Account, LedgerEntry
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.ledger.accounts import open_account, upsert_customer
from loyalty_plugin.services.merchants.registration import create_merchant


def _expired(engine: sa.Engine, merchants: tuple[str, ...], per_merchant: int) -> None:
    """Each merchant's customers with 100 points that expired yesterday."""
    now = datetime.now(UTC)
    with Session(engine) as session:
        for merchant in merchants:
            create_merchant(session, merchant_id=merchant, name=merchant.title(), currency="EUR")
            for number in range(per_merchant):
                customer = upsert_customer(
                    session, merchant_id=merchant, host_customer_id=f"c{number}", first_name="A"
                )
                account = open_account(session, merchant_id=merchant, customer_id=customer.id)
                ledger.earn(session, account_id=account.id, points=100,
                            now=now - timedelta(days=400), actor="t",
                            expires_at=now - timedelta(days=1))  # fmt: skip
        session.commit()


def _balances(engine: sa.Engine) -> dict[str, int]:
    with Session(engine) as session:
        rows = session.execute(
            sa.select(Account.merchant_id, sa.func.sum(Account.balance)).group_by(
                Account.merchant_id
            )
        )
        return {merchant: int(total) for merchant, total in rows}


def _expiries(engine: sa.Engine) -> int:
    with Session(engine) as session:
        return session.scalar(
            sa.select(sa.func.count())
            .select_from(LedgerEntry)
            .where(LedgerEntry.kind == EntryKind.EXPIRE)
        )


def test_a_merchants_run_expires_its_points_only(job_app: Flask, engine: sa.Engine) -> None:
    _expired(engine, ("shop", "bakery"), 3)
    outcome = JobRunner(job_app).run_now("expire-points", merchant_id="shop", started_by="cli:t")
    assert outcome.status == "succeeded" and outcome.rows == 3
    assert _balances(engine) == {"shop": 0, "bakery": 300}


def test_run_now_racing_the_scheduler_expires_each_lot_once(
    job_app: Flask, engine: sa.Engine
) -> None:
    """Both want the job's lease; whatever the order, every lot expires exactly once."""
    _expired(engine, ("shop", "bakery"), 4)
    barrier = threading.Barrier(2)
    outcomes = []

    def scheduled() -> None:
        runner = JobRunner(job_app)
        barrier.wait()
        outcomes.append(runner.run_scheduled("expire-points"))

    def run_now() -> None:
        barrier.wait()
        outcomes.append(run_for_merchant(job_app, "expire-points", merchant_id="shop",
                                         actor="staff:1 Olga", now=datetime.now(UTC)))  # fmt: skip

    threads = [threading.Thread(target=scheduled), threading.Thread(target=run_now)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert "succeeded" in {o.status for o in outcomes}, outcomes
    assert all(o.status in ("succeeded", "skipped") for o in outcomes), outcomes
    JobRunner(job_app).run_now("expire-points")  # whatever a skipped run left
    assert _balances(engine) == {"shop": 0, "bakery": 0}
    assert _expiries(engine) == 8  # one expiry entry per account, never two
