"""Job runs are claimed in the database: once per slot, one at a time, recorded."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from loyalty_plugin.jobs import Job, JobContext
from loyalty_plugin.jobs.runner import JobRunner, UnknownJob
from loyalty_plugin.models import JobRun, RunStatus
from loyalty_plugin.services.job_runs import claim_run
from loyalty_plugin.services.transaction import run_in_transaction


class Counter:
    """A job that counts its calls (and can sleep, fail or report progress)."""

    def __init__(self, *, sleep: float = 0, fail: bool = False, steps: int = 0) -> None:
        self.calls = 0
        self.sleep, self.fail, self.steps = sleep, fail, steps
        self.lock = threading.Lock()

    def __call__(self, ctx: JobContext) -> int:
        with self.lock:
            self.calls += 1
        time.sleep(self.sleep)
        for step in range(self.steps):
            ctx.progress(step + 1, self.steps)
        if self.fail:
            raise RuntimeError("the host is down")
        return 3


def runner_with(app, clock, job: Counter, *, owner: str, lease: int | None = None) -> JobRunner:
    jobs = {"count": Job(name="count", run=job, every_seconds=60, lease_seconds=lease)}
    return JobRunner(app, jobs, clock=clock, owner=owner)


def runs(engine) -> list[JobRun]:
    with Session(engine) as session:
        return list(session.scalars(select(JobRun).order_by(JobRun.id)))


def test_a_slot_runs_once_whichever_scheduler_fires_it(job_app, clock, engine) -> None:
    """Two schedulers firing the same minute: one runs it, the other skips."""
    job = Counter()
    first = runner_with(job_app, clock, job, owner="host-a")
    second = runner_with(job_app, clock, job, owner="host-b")
    assert first.run_scheduled("count").status == "succeeded"
    clock.advance(seconds=20)
    skipped = second.run_scheduled("count")
    assert (skipped.status, skipped.detail) == (
        "skipped",
        "the run for 2026-05-04 10:00:00 is already succeeded",
    )
    clock.advance(seconds=40)
    assert second.run_scheduled("count").status == "succeeded"
    recorded = runs(engine)
    assert job.calls == 2
    assert [(r.owner, r.status, r.rows, r.scheduled_for.minute) for r in recorded] == [
        ("host-a", RunStatus.SUCCEEDED, 3, 0),
        ("host-b", RunStatus.SUCCEEDED, 3, 1),
    ]


@pytest.mark.concurrency
@pytest.mark.backends("postgresql", "mariadb")
def test_racing_schedulers_run_a_slot_once(job_app, clock) -> None:
    """Eight schedulers firing the same slot at the same instant: exactly one runs."""
    job = Counter(sleep=0.2)
    runners = [runner_with(job_app, clock, job, owner=f"host-{i}") for i in range(8)]
    barrier = threading.Barrier(len(runners))
    outcomes = []

    def fire(runner: JobRunner) -> None:
        barrier.wait()
        outcomes.append(runner.run_scheduled("count").status)

    threads = [threading.Thread(target=fire, args=(r,)) for r in runners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["skipped"] * 7 + ["succeeded"]
    assert job.calls == 1


def test_a_dead_holders_lease_times_out(job_app, clock, engine) -> None:
    """A run whose process died blocks its job until the lease ends, then is abandoned."""
    with Session(engine) as session:
        run_in_transaction(
            session,
            lambda s: claim_run(
                s,
                job="count",
                scheduled_for=clock(),
                trigger="manual",
                owner="crashed",
                now=clock(),
                lease=timedelta(seconds=60),
            ),
        )
    job = Counter()
    runner = runner_with(job_app, clock, job, owner="host-b")
    clock.advance(seconds=30)
    busy = runner.run_now("count")
    assert (busy.status, busy.detail) == (
        "skipped",
        "another run holds the lease (lease until 10:01:03)",
    )
    clock.advance(seconds=31)
    assert runner.run_now("count").status == "succeeded"
    assert [(r.owner, r.status) for r in runs(engine)] == [
        ("crashed", RunStatus.ABANDONED),
        ("host-b", RunStatus.SUCCEEDED),
    ]


def test_a_failure_is_recorded_and_frees_the_job(job_app, clock, engine) -> None:
    """A failing run records its error; the next run is not blocked by it."""
    failing = runner_with(job_app, clock, Counter(fail=True), owner="a")
    outcome = failing.run_now("count")
    assert outcome.status == "failed"
    assert outcome.detail.startswith("RuntimeError: the host is down")
    clock.advance(seconds=1)
    assert runner_with(job_app, clock, Counter(), owner="b").run_now("count").status == "succeeded"
    first = runs(engine)[0]
    assert (first.status, first.error.splitlines()[0]) == (
        RunStatus.FAILED,
        "RuntimeError: the host is down",
    )
    assert first.finished_at is not None


def test_progress_renews_the_lease_and_a_lost_lease_stops_the_run(job_app, clock, engine) -> None:
    """Progress reports extend the lease; if another process took it, the job stops."""
    renewing = runner_with(job_app, clock, Counter(steps=2), owner="a", lease=1)
    assert renewing.run_now("count").status == "succeeded"
    clock.advance(seconds=1)

    def steal(ctx: JobContext) -> int:
        with Session(engine) as session:
            session.execute(text("UPDATE job_leases SET owner = 'thief'"))
            session.commit()
        time.sleep(0.4)  # progress renews the lease once a third of it has gone by
        ctx.progress(1, 2)
        return 1

    jobs = {"count": Job(name="count", run=steal, every_seconds=60, lease_seconds=1)}
    lost = JobRunner(job_app, jobs, clock=clock, owner="b").run_now("count")
    assert lost.status == "failed"
    assert "lost its lease" in lost.detail


def test_unknown_jobs_are_named(job_app) -> None:
    """Asking for a job that does not exist lists the ones that do."""
    with pytest.raises(UnknownJob, match=r"known jobs: .*expire-points"):
        JobRunner(job_app).run_now("expire-everything")


def test_two_embedded_schedulers_share_the_slots(job_app, engine) -> None:
    """Two APScheduler instances firing a 1-second job: each slot runs once, in one of them."""
    from loyalty_plugin.jobs.scheduler import build_scheduler

    job = Counter()
    jobs = {"count": Job(name="count", run=job, every_seconds=1)}
    schedulers = [
        build_scheduler(JobRunner(job_app, jobs, owner=f"web-{i}"), catch_up=False)
        for i in range(2)
    ]
    for scheduler in schedulers:
        scheduler.start()
    time.sleep(2.6)
    for scheduler in schedulers:
        scheduler.shutdown(wait=True)
    recorded = runs(engine)
    slots = [r.scheduled_for for r in recorded]
    assert len(recorded) == job.calls >= 2
    assert len(set(slots)) == len(slots)
    assert all(s.microsecond == 0 for s in slots)


def test_the_web_process_starts_one_embedded_scheduler(job_app) -> None:
    """With ``embedded``, the first request starts one scheduler; ``off`` starts none."""
    from loyalty_plugin.jobs.scheduler import start_embedded, start_on_first_request

    start_on_first_request(job_app)
    client = job_app.test_client()
    assert client.get("/loyalty/health").status_code == 200
    assert "scheduler" not in job_app.extensions["loyalty"].extras
    job_app.config["LOYALTY_SCHEDULER"] = "embedded"
    assert client.get("/loyalty/health").status_code == 200
    scheduler = job_app.extensions["loyalty"].extras["scheduler"]
    try:
        assert client.get("/loyalty/health").status_code == 200
        assert start_embedded(job_app) is scheduler
        names = {job.id for job in scheduler.get_jobs() if ":" not in job.id}
        assert {"expire-points", "send-emails", "deliver-webhooks"} <= names
    finally:
        scheduler.shutdown(wait=True)


def test_idle_runs_are_forgotten_and_the_rest_kept(job_app, clock, engine) -> None:
    """Runs that changed nothing go after an hour; failures and real work stay."""
    jobs = {
        "idle": Job(name="idle", run=lambda ctx: 0, every_seconds=60),
        "fails": Job(name="fails", run=Counter(fail=True), every_seconds=60),
        "works": Job(name="works", run=Counter(), every_seconds=60),
    }
    runner = JobRunner(job_app, jobs, clock=clock, owner="a")
    for _ in range(3):
        for name in jobs:
            runner.run_scheduled(name)
        clock.advance(minutes=50)
    kept = sorted((r.job, r.scheduled_for.strftime("%H:%M")) for r in runs(engine))
    assert kept == [
        ("fails", "10:00"),
        ("fails", "10:50"),
        ("fails", "11:40"),
        ("idle", "10:50"),
        ("idle", "11:40"),
        ("works", "10:00"),
        ("works", "10:50"),
        ("works", "11:40"),
    ]
