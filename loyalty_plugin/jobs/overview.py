"""The jobs as a merchant's staff see them, and "run now" for one merchant's share.

The admin's Jobs screen, ``GET /api/v1/jobs`` and ``loyalty jobs run NAME --merchant M``
read and act through these two functions. Runs are shown only if they did the merchant's
work (runs for every merchant, and the merchant's own); another merchant's runs, and who
asked for them, never show.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import Flask
from sqlalchemy.orm import Session

from loyalty_plugin.domain.errors import InvalidOperation, NotFound
from loyalty_plugin.jobs.runner import JobRunner, NotPerMerchant, Outcome, UnknownJob
from loyalty_plugin.jobs.schedule import describe, slot_for
from loyalty_plugin.models import JobRun
from loyalty_plugin.services.audit import Actor, as_actor, record_change
from loyalty_plugin.services.job_runs import recent_runs
from loyalty_plugin.services.transaction import run_in_transaction

#: Runs of each job the screen lists.
RUNS_SHOWN = 5


@dataclass
class JobStatus:
    """One job: what it does, when it runs, its latest runs (newest first)."""

    name: str
    description: str
    schedule: str
    enabled: bool
    per_merchant: bool
    next_run: datetime | None
    runs: list[JobRun] = field(default_factory=list)


def job_statuses(
    app: Flask, session: Session, *, merchant_id: str | None, now: datetime
) -> list[JobStatus]:
    """Every job with its schedule, next run and last runs (those that did the merchant's work)."""
    runner_jobs = JobRunner(app).jobs
    runs = recent_runs(session, merchant_id=merchant_id, limit=2000)
    by_job: dict[str, list[JobRun]] = {}
    for run in runs:
        shown = by_job.setdefault(run.job, [])
        if len(shown) < RUNS_SHOWN:
            shown.append(run)
    statuses = []
    for name, job in sorted(runner_jobs.items()):
        step = timedelta(seconds=job.every_seconds)
        slot = slot_for(now, every_seconds=job.every_seconds, offset_seconds=job.offset_seconds)
        statuses.append(
            JobStatus(
                name=name,
                description=job.description,
                schedule=describe(job.every_seconds, job.offset_seconds) if job.enabled else "off",
                enabled=job.enabled,
                per_merchant=job.per_merchant,
                next_run=slot + step if job.enabled else None,
                runs=by_job.get(name, []),
            )
        )
    return statuses


def run_for_merchant(
    app: Flask, name: str, *, merchant_id: str, actor: Actor | str, now: datetime
) -> Outcome:
    """Run job ``name`` now for ``merchant_id``'s share only, and audit it (``job.run``).

    The run is recorded with the merchant and ``actor``; it takes the job's lease, so a
    scheduled run of the same job is never running at the same time (the later one is
    skipped, and says why). Unknown jobs are :class:`NotFound`; jobs that run for every
    merchant at once (plugins' unless they say otherwise) :class:`InvalidOperation`.
    """
    actor = as_actor(actor)
    runner = JobRunner(app)
    try:
        outcome = runner.run_now(name, merchant_id=merchant_id, started_by=actor.label)
    except UnknownJob as error:
        raise NotFound(str(error), field="name") from None
    except NotPerMerchant as error:
        raise InvalidOperation(f"{error}: an operator runs it", field="name") from None
    with Session(runner.engine, expire_on_commit=False) as session:
        run_in_transaction(
            session,
            lambda s: record_change(
                s,
                merchant_id=merchant_id,
                actor=actor,
                action="job.run",
                target_type="job",
                target_id=name,
                before=None,
                after={
                    "run_id": outcome.run_id,
                    "status": outcome.status,
                    "rows": outcome.rows,
                    "detail": (outcome.detail or "")[:300] or None,
                },
                now=now,
            ),
        )
    return outcome
