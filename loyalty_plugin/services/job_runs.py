"""Claiming, renewing and recording job runs in the database, so each run happens once.

A claim takes the job's lease (one holder at a time, renewed while working, timing out
after a crash) and inserts the run row keyed on (job, scheduled time). Either fails when
another process got there first, and the caller skips the run. The caller commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, func, or_, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from loyalty_plugin.models import JobLease, JobRun, RunStatus

#: A released lease ends at this instant: any claim after it may take the lease.
RELEASED = datetime.fromisoformat("2000-01-01T00:00:00+00:00")


class LeaseLost(Exception):
    """The run's lease was taken over (it was not renewed in time); stop working."""


@dataclass(frozen=True, slots=True)
class Claim:
    """A claimed run: its row id and the owner that must renew it."""

    run_id: int
    owner: str


@dataclass(frozen=True, slots=True)
class Skip:
    """Why a run was not claimed."""

    reason: str


def claim_run(
    session: Session,
    *,
    job: str,
    scheduled_for: datetime,
    trigger: str,
    owner: str,
    now: datetime,
    lease: timedelta,
    merchant_id: str | None = None,
    started_by: str | None = None,
) -> Claim | Skip:
    """Take the job's lease and record the run, or say why another process has it.

    A run for one merchant (``merchant_id``) takes the same lease as a run for all, so
    the two never overlap.
    """
    _abandon_dead_runs(session, job=job, now=now)
    done = session.scalar(
        select(JobRun.status).where(JobRun.job == job, JobRun.scheduled_for == scheduled_for)
    )
    if done is not None:
        return Skip(f"the run for {scheduled_for:%Y-%m-%d %H:%M:%S} is already {done.value}")
    if not _take_lease(session, job=job, owner=owner, now=now, until=now + lease):
        holder = session.get(JobLease, job, populate_existing=True)
        until = f" (lease until {holder.lease_until:%H:%M:%S})" if holder else ""
        return Skip(f"another run holds the lease{until}")
    run = JobRun(
        job=job,
        scheduled_for=scheduled_for,
        trigger=trigger,
        status=RunStatus.RUNNING,
        owner=owner,
        started_at=now,
        lease_until=now + lease,
        rows=0,
        merchant_id=merchant_id,
        started_by=started_by,
    )
    try:
        with session.begin_nested():
            session.add(run)
    except IntegrityError:
        return Skip("another process claimed the same run")
    session.execute(update(JobLease).where(JobLease.job == job).values(run_id=run.id))
    return Claim(run.id, owner)


def renew_lease(
    session: Session,
    claim: Claim,
    *,
    job: str,
    now: datetime,
    lease: timedelta,
    rows: int,
    total: int | None,
) -> None:
    """Extend the lease and record progress; :class:`LeaseLost` if it is no longer ours."""
    held = session.execute(
        update(JobLease)
        .where(JobLease.job == job, JobLease.owner == claim.owner, JobLease.run_id == claim.run_id)
        .values(lease_until=now + lease)
    ).rowcount
    if not held:
        raise LeaseLost(f"run {claim.run_id} of {job} lost its lease")
    session.execute(
        update(JobRun)
        .where(JobRun.id == claim.run_id)
        .values(lease_until=now + lease, rows=rows, total=total)
    )


def finish_run(
    session: Session,
    claim: Claim,
    *,
    job: str,
    now: datetime,
    rows: int,
    total: int | None = None,
    error: str | None = None,
) -> None:
    """Record how the run ended and release the lease (if still ours)."""
    session.execute(
        update(JobRun)
        .where(JobRun.id == claim.run_id, JobRun.owner == claim.owner)
        .values(
            status=RunStatus.FAILED if error else RunStatus.SUCCEEDED,
            finished_at=now,
            lease_until=now,
            rows=rows,
            total=total,
            error=error,
        )
    )
    session.execute(
        update(JobLease)
        .where(JobLease.job == job, JobLease.owner == claim.owner, JobLease.run_id == claim.run_id)
        .values(lease_until=RELEASED)
    )


def last_runs(session: Session, *, merchant_id: str | None = None) -> dict[str, JobRun]:
    """The latest run of every job that ran, by job name.

    With ``merchant_id``: of the runs that did that merchant's work (those for every
    merchant, and its own), never another merchant's.
    """
    latest = (
        select(JobRun.job, func.max(JobRun.id).label("id"))
        .where(_visible_to(merchant_id))
        .group_by(JobRun.job)
        .subquery()
    )
    runs = session.scalars(select(JobRun).join(latest, latest.c.id == JobRun.id))
    return {run.job: run for run in runs}


def recent_runs(
    session: Session,
    *,
    job: str | None = None,
    limit: int = 50,
    merchant_id: str | None = None,
) -> list[JobRun]:
    """Runs newest first, of one job or all (for the admin pages and ``loyalty jobs``);
    with ``merchant_id``, those that did its work (see :func:`last_runs`)."""
    query = select(JobRun).where(_visible_to(merchant_id)).order_by(JobRun.id.desc()).limit(limit)
    if job is not None:
        query = query.where(JobRun.job == job)
    return list(session.scalars(query))


def _visible_to(merchant_id: str | None) -> ColumnElement[bool]:
    if merchant_id is None:
        return true()
    return or_(JobRun.merchant_id.is_(None), JobRun.merchant_id == merchant_id)


def prune_runs(session: Session, *, job: str, before: datetime, idle_before: datetime) -> int:
    """Forget runs of ``job`` scheduled before ``before``, and idle ones before ``idle_before``.

    An idle run succeeded and changed nothing; a job running every few seconds makes
    thousands a day, and they tell nothing once newer ones exist.
    """
    old = JobRun.scheduled_for < before
    idle = (
        (JobRun.scheduled_for < idle_before)
        & (JobRun.status == RunStatus.SUCCEEDED)
        & (JobRun.rows == 0)
    )
    return session.execute(
        delete(JobRun).where(JobRun.job == job, JobRun.status != RunStatus.RUNNING, old | idle)
    ).rowcount


def _take_lease(session: Session, *, job: str, owner: str, now: datetime, until: datetime) -> bool:
    """Atomically take a free (released or timed-out) lease; create it on first use."""
    taken = session.execute(
        update(JobLease)
        .where(JobLease.job == job, JobLease.lease_until < now)
        .values(owner=owner, lease_until=until, run_id=None)
    ).rowcount
    if taken:
        return True
    if session.get(JobLease, job, populate_existing=True) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(JobLease(job=job, owner=owner, lease_until=until))
    except IntegrityError:
        return False
    return True


def _abandon_dead_runs(session: Session, *, job: str, now: datetime) -> None:
    """Mark runs whose holder stopped renewing (the process died) as abandoned."""
    session.execute(
        update(JobRun)
        .where(JobRun.job == job, JobRun.status == RunStatus.RUNNING, JobRun.lease_until < now)
        .values(status=RunStatus.ABANDONED, finished_at=JobRun.lease_until)
    )
