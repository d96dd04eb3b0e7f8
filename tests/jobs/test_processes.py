"""Real processes against one PostgreSQL database: two schedulers, and a run killed midway.

These start ``python -m loyalty_plugin`` (the ``loyalty`` command) as subprocesses, so what
is tested is what an operator runs: no test hook inside the code under test.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.ledger import EntryKind
from loyalty_plugin.jobs import builtin_jobs
from loyalty_plugin.models import Allocation, JobRun, LedgerEntry, Lot, RunStatus
from loyalty_plugin.services.ledger.integrity import verify_ledger
from tests.jobs.conftest import bulk_lots

#: Every job off but ``expire-points``, which runs every 2 seconds.
ONLY_EXPIRY = ",".join(
    "expire-points=2s" if job.name == "expire-points" else f"{job.name}=off"
    for job in builtin_jobs()
)


def loyalty(args: list[str], *, database_url: str, tmp_path: Path, **env: str) -> subprocess.Popen:
    """Start ``loyalty ARGS`` in its own process, output captured."""
    environment = os.environ | {
        "LOYALTY_DATABASE_URL": database_url,
        "LOYALTY_INSTANCE_PATH": str(tmp_path),
        "LOYALTY_SECRET_KEY": "test-secret-key",
        "LOYALTY_PLUGIN_ENTRY_POINTS": "false",
        "LOYALTY_SCHEDULER": "off",
        "LOYALTY_JOB_SCHEDULE": ONLY_EXPIRY,
        "LOYALTY_SMTP_HOST": "",  # whatever the developer's shell says: no e-mail from tests
    }
    return subprocess.Popen(
        [sys.executable, "-m", "loyalty_plugin", *args],
        env=environment | env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def expired_lots(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(Lot).where(Lot.remaining == 0))


def wait_for(condition, *, timeout: float, every: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("timed out waiting for the processes")
        time.sleep(every)


def assert_each_due_lot_expired_once(session: Session, *, accounts: int, due_lots: int) -> None:
    """Every due lot has exactly one expiry allocation; one entry per account; sound ledger."""
    per_lot = session.execute(
        select(Allocation.lot_id, func.count())
        .join(LedgerEntry, LedgerEntry.id == Allocation.entry_id)
        .where(LedgerEntry.kind == EntryKind.EXPIRE)
        .group_by(Allocation.lot_id)
    ).all()
    assert len(per_lot) == due_lots
    assert {count for _, count in per_lot} == {1}
    entries = session.scalar(select(func.count()).where(LedgerEntry.kind == EntryKind.EXPIRE))
    assert entries == accounts
    assert verify_ledger(session) == []


@pytest.mark.concurrency
@pytest.mark.backends("postgresql")
def test_two_scheduler_processes_expire_each_lot_once(
    session, clean_engine, database_url, tmp_path
):
    """Two ``loyalty scheduler`` processes firing the same slots: each lot expires once."""
    accounts = bulk_lots(clean_engine, accounts=120, due=3, later=1, now=datetime.now(UTC))
    env = {"LOYALTY_EXPIRY_BATCH_SIZE": "20"}
    first = loyalty(["scheduler"], database_url=database_url, tmp_path=tmp_path, **env)
    second = loyalty(["scheduler"], database_url=database_url, tmp_path=tmp_path, **env)
    try:
        wait_for(lambda: expired_lots(clean_engine) == 360, timeout=40)
        time.sleep(2.5)  # one more slot: both schedulers fire again, nothing is left to do
    finally:
        for process in (first, second):
            process.send_signal(signal.SIGTERM)
        logs = [process.communicate(timeout=30)[0] for process in (first, second)]
    assert [p.returncode for p in (first, second)] == [0, 0], logs
    assert_each_due_lot_expired_once(session, accounts=len(accounts), due_lots=360)
    started = [
        set(re.findall(r"expire-points run \d+ started \(schedule, slot (\S+)\)", log))
        for log in logs
    ]
    skipped = [set(re.findall(r"expire-points skipped \((\S+)\)", log)) for log in logs]
    contested = (started[0] & skipped[1]) | (started[1] & skipped[0])
    assert contested, logs  # the same slot fired in both processes, and ran in one
    runs = session.scalars(select(JobRun).where(JobRun.job == "expire-points")).all()
    assert len({r.scheduled_for for r in runs}) == len(runs) >= 2
    assert {r.status for r in runs} == {RunStatus.SUCCEEDED}


@pytest.mark.concurrency
@pytest.mark.backends("postgresql")
def test_a_run_killed_midway_is_finished_by_the_next_with_nothing_twice(
    session, clean_engine, database_url, tmp_path
):
    """SIGKILL after some batches committed; the next run expires the rest, nothing twice."""
    accounts = bulk_lots(clean_engine, accounts=600, due=1, later=1, now=datetime.now(UTC))
    env = {"LOYALTY_EXPIRY_BATCH_SIZE": "5", "LOYALTY_JOB_LEASE_SECONDS": "2"}
    killed = loyalty(
        ["jobs", "run", "expire-points"], database_url=database_url, tmp_path=tmp_path, **env
    )
    wait_for(lambda: expired_lots(clean_engine) > 0, timeout=30, every=0.01)
    killed.send_signal(signal.SIGKILL)
    killed.communicate(timeout=30)
    halfway = expired_lots(clean_engine)
    assert 0 < halfway < 600
    time.sleep(2.1)  # the dead run's lease runs out
    again = loyalty(
        ["jobs", "run", "expire-points"], database_url=database_url, tmp_path=tmp_path, **env
    )
    output = again.communicate(timeout=120)[0]
    assert again.returncode == 0, output
    assert f"expire-points succeeded: {600 - halfway} rows" in output
    assert_each_due_lot_expired_once(session, accounts=len(accounts), due_lots=600)
    runs = session.scalars(select(JobRun).order_by(JobRun.id)).all()
    assert [r.status for r in runs] == [RunStatus.ABANDONED, RunStatus.SUCCEEDED]
