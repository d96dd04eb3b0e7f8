"""Claim, run, record: how every job run goes, from the scheduler or from the command line.

1. Claim the run in the database (:func:`loyalty_plugin.services.job_runs.claim_run`), in
   its own short transaction. If another process has it, log why and stop.
2. Run the job in an app context with a session wired to the event sinks; each
   ``ctx.progress(...)`` renews the lease (at most every third of it).
3. Record the end: succeeded with the rows changed, or failed with the error; release
   the lease.

When the database goes away mid-run, the batch in flight rolls back and the end cannot be
recorded either: the runner keeps it and records it (failed) before its next run of that
job claims a new one, so the job resumes on its next run instead of waiting for its lease
to time out. Jobs work in committed batches chosen by "due and not yet done", so the
resumed run does what is left and nothing twice.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy.orm import Session

from loyalty_plugin.database import is_unavailable
from loyalty_plugin.extensions import loyalty_state
from loyalty_plugin.jobs import Job, JobContext, all_jobs
from loyalty_plugin.jobs.schedule import slot_for
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.job_runs import (
    Claim,
    LeaseLost,
    Skip,
    claim_run,
    finish_run,
    prune_runs,
    renew_lease,
)
from loyalty_plugin.services.transaction import run_in_transaction

log = logging.getLogger("loyalty_plugin.jobs")

#: What ``progress`` callers outside the job see: ``(done, total)``.
ProgressCallback = Callable[[int, int | None], None]


class UnknownJob(LookupError):
    """No job of that name is registered."""


class NotPerMerchant(ValueError):
    """The job cannot run for one merchant alone (it does not honour ``merchant_id``)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one attempt to run a job ended."""

    job: str
    #: ``succeeded``, ``failed`` or ``skipped``.
    status: str
    run_id: int | None = None
    rows: int = 0
    seconds: float = 0.0
    #: The error of a failed run, or why a run was skipped.
    detail: str | None = None


class JobRunner:
    """Runs the app's jobs, each run claimed in the database first."""

    def __init__(
        self,
        app: Flask,
        jobs: Mapping[str, Job] | None = None,
        *,
        clock: Callable[[], datetime] = utcnow,
        owner: str | None = None,
    ) -> None:
        self.app = app
        self.jobs = dict(jobs) if jobs is not None else all_jobs(app)
        self.clock = clock
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        with app.app_context():
            self.engine = loyalty_state(app).db.engine
        self.default_lease = int(app.config["LOYALTY_JOB_LEASE_SECONDS"])
        self.history = timedelta(days=int(app.config["LOYALTY_JOB_HISTORY_DAYS"]))
        #: Ends of runs that could not be recorded (database gone), by job name.
        self._unrecorded: dict[str, Callable[[Session], Any]] = {}

    def job(self, name: str) -> Job:
        """The job called ``name``, or :class:`UnknownJob` listing the known ones."""
        try:
            return self.jobs[name]
        except KeyError:
            known = ", ".join(sorted(self.jobs))
            raise UnknownJob(f"no job named {name!r}; known jobs: {known}") from None

    def run_scheduled(self, name: str) -> Outcome:
        """Run the job's current slot, unless another scheduler already claimed it."""
        job = self.job(name)
        now = self.clock()
        slot = slot_for(now, every_seconds=job.every_seconds, offset_seconds=job.offset_seconds)
        return self._run(job, slot=slot, trigger="schedule", now=now)

    def run_now(
        self,
        name: str,
        *,
        at: datetime | None = None,
        progress: ProgressCallback | None = None,
        merchant_id: str | None = None,
        started_by: str | None = None,
    ) -> Outcome:
        """Run the job once now, outside its schedule (``loyalty jobs run NAME``).

        With ``merchant_id`` the job does that merchant's share only (a job that cannot is
        refused with :class:`NotPerMerchant`). The run takes the job's one lease, as a
        scheduled run does, so it never overlaps the scheduler's run of the same job.
        """
        job = self.job(name)
        if merchant_id is not None and not job.per_merchant:
            raise NotPerMerchant(f"job {name!r} runs for every merchant at once")
        now = self.clock()
        return self._run(
            job,
            slot=now,
            trigger="manual",
            now=at or now,
            progress=progress,
            merchant_id=merchant_id,
            started_by=started_by,
        )

    def _run(
        self,
        job: Job,
        *,
        slot: datetime,
        trigger: str,
        now: datetime,
        progress: ProgressCallback | None = None,
        merchant_id: str | None = None,
        started_by: str | None = None,
    ) -> Outcome:
        lease = timedelta(seconds=job.lease_seconds or self.default_lease)
        try:
            self._record_interrupted(job)
            claim = self._bookkeeping(
                lambda s: claim_run(
                    s,
                    job=job.name,
                    scheduled_for=slot,
                    trigger=trigger,
                    owner=self.owner,
                    now=self.clock(),
                    lease=lease,
                    merchant_id=merchant_id,
                    started_by=started_by,
                )
            )
        except Exception as error:
            if not is_unavailable(error):
                raise
            log.warning("job %s not run: the database cannot be reached", job.name)
            return Outcome(job.name, "failed", detail="database unavailable")
        if isinstance(claim, Skip):
            log.info("job %s skipped (%s): %s", job.name, f"{slot:%H:%M:%S}", claim.reason)
            return Outcome(job.name, "skipped", detail=claim.reason)
        log.info(
            "job %s run %d started (%s, slot %s)",
            job.name,
            claim.run_id,
            trigger,
            f"{slot:%H:%M:%S}",
        )
        tracker = _Tracker(self, job, claim, lease, progress)
        started = time.monotonic()
        result, error = self._call(job, now=now, tracker=tracker, merchant_id=merchant_id)
        rows = _count(result, tracker.done)
        self._record_end(job, lambda s: self._finish(s, job, claim, rows, tracker.total, error))
        seconds = time.monotonic() - started
        status = "failed" if error else "succeeded"
        log.info(
            "job %s run %d %s: %d rows in %.2fs", job.name, claim.run_id, status, rows, seconds
        )
        return Outcome(job.name, status, claim.run_id, rows, seconds, error)

    def _call(
        self, job: Job, *, now: datetime, tracker: _Tracker, merchant_id: str | None = None
    ) -> tuple[Any, str | None]:
        """Run the job in an app context; its result, or the error as text."""
        try:
            with self.app.app_context():
                context = JobContext(
                    app=self.app,
                    session=job_session(self.app),
                    now=now,
                    merchant_id=merchant_id,
                )
                context.progress = tracker
                return job.run(context), None
        except LeaseLost as error:
            log.error("job %s stopped: %s", job.name, error)
            return None, str(error)
        except Exception as error:
            log.exception("job %s failed", job.name)
            trace = "".join(traceback.format_exception(error, limit=-8))
            return None, f"{type(error).__name__}: {str(error)[:1000]}\n{trace[-3000:]}"

    def _finish(
        self,
        session: Session,
        job: Job,
        claim: Claim,
        rows: int,
        total: int | None,
        error: str | None,
    ) -> None:
        now = self.clock()
        finish_run(session, claim, job=job.name, now=now, rows=rows, total=total, error=error)
        # Keep idle runs long enough that a late scheduler still finds its slot taken.
        idle = max(timedelta(hours=1), 2 * timedelta(seconds=job.every_seconds))
        prune_runs(session, job=job.name, before=now - self.history, idle_before=now - idle)

    def _record_end(self, job: Job, finish: Callable[[Session], Any]) -> None:
        """Record a run's end; if the database is gone, keep it for the job's next run."""
        try:
            self._bookkeeping(finish)
        except Exception as error:
            if not is_unavailable(error):
                raise
            log.warning("job %s: its end will be recorded on its next run", job.name)
            self._unrecorded[job.name] = finish

    def _record_interrupted(self, job: Job) -> None:
        """Record the end of this job's run the database outage left unrecorded, if any."""
        finish = self._unrecorded.pop(job.name, None)
        if finish is None:
            return
        try:
            self._bookkeeping(finish)
        except Exception:
            self._unrecorded[job.name] = finish
            raise

    def _bookkeeping(self, work: Callable[[Session], Any]) -> Any:
        """Run ``work`` in its own short transaction, apart from the job's session."""
        with Session(self.engine, expire_on_commit=False) as session:
            return run_in_transaction(session, work)


class _Tracker:
    """The job's ``progress``: remembers the counts, renews the lease, feeds a progress bar."""

    def __init__(
        self,
        runner: JobRunner,
        job: Job,
        claim: Claim,
        lease: timedelta,
        callback: ProgressCallback | None,
    ) -> None:
        self.runner, self.job, self.claim, self.lease = runner, job, claim, lease
        self.callback = callback
        self.done = 0
        self.total: int | None = None
        self._renewed = time.monotonic()

    def __call__(self, done: int, total: int | None = None) -> None:
        """Record ``done`` rows (of ``total``); call it between transactions, not inside one."""
        self.done = done
        self.total = total if total is not None else self.total
        if self.callback is not None:
            self.callback(done, self.total)
        if time.monotonic() - self._renewed >= self.lease.total_seconds() / 3:
            self.renew()

    def renew(self) -> None:
        """Extend the lease now; raises :class:`LeaseLost` if another process took it."""
        self.runner._bookkeeping(
            lambda s: renew_lease(
                s,
                self.claim,
                job=self.job.name,
                now=self.runner.clock(),
                lease=self.lease,
                rows=self.done,
                total=self.total,
            )
        )
        self._renewed = time.monotonic()


def job_session(app: Flask) -> Session:
    """The app's session with every event sink attached (outbox, hooks, e-mail)."""
    from loyalty_plugin.plugins import bind_session

    state = loyalty_state(app)
    return bind_session(state.db.session, state.plugin_manager)


def _count(result: Any, reported: int) -> int:
    """Rows a job changed, from what it returned (a count, a dict of counts, a list)."""
    if isinstance(result, bool) or result is None:
        return reported
    if isinstance(result, int):
        return result
    if isinstance(result, Mapping):
        return sum(v for v in result.values() if isinstance(v, int) and not isinstance(v, bool))
    if isinstance(result, list | tuple):
        return len(result)
    return reported
