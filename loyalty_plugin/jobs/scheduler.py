"""APScheduler wiring: every enabled job on its interval, each run through the runner.

APScheduler 3 keeps its schedule in memory and cannot share a job store between
processes, so it never decides alone that a run happens: each firing goes through
:meth:`JobRunner.run_scheduled`, which claims the run in the database. Any number of
schedulers (the ``loyalty scheduler`` process, one embedded in each web worker) can fire
the same slot; one of them runs it.

At start every job also gets one catch-up firing, so a daily job whose time passed while
no scheduler was up still runs today (or is skipped, if its slot was already run).
"""

from __future__ import annotations

import atexit
import logging
import threading
from datetime import UTC

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask

from loyalty_plugin.extensions import loyalty_state
from loyalty_plugin.jobs.runner import JobRunner
from loyalty_plugin.jobs.schedule import origin

log = logging.getLogger("loyalty_plugin.jobs")

#: Jobs that may run at once in one scheduler (each job runs one at a time anyway).
WORKERS = 4
_START_LOCK = threading.Lock()


def build_scheduler(runner: JobRunner, *, catch_up: bool = True) -> BaseScheduler:
    """A background scheduler firing every enabled job of ``runner`` (not started)."""
    scheduler = BackgroundScheduler(
        timezone=UTC,
        executors={"default": ThreadPoolExecutor(max_workers=WORKERS)},
        job_defaults={"coalesce": True, "max_instances": 1},
    )
    now = runner.clock()
    for job in runner.jobs.values():
        if not job.enabled:
            continue
        trigger = IntervalTrigger(
            seconds=job.every_seconds, start_date=origin(job.offset_seconds), timezone=UTC
        )
        scheduler.add_job(
            runner.run_scheduled,
            trigger,
            args=[job.name],
            id=job.name,
            name=job.description or job.name,
            # A firing late by up to one interval still runs (its slot is computed then).
            misfire_grace_time=max(1, job.every_seconds),
        )
        if catch_up:
            scheduler.add_job(
                runner.run_scheduled,
                "date",
                run_date=now,
                args=[job.name],
                id=f"{job.name}:catch-up",
                misfire_grace_time=None,
            )
    return scheduler


def start_embedded(app: Flask) -> BaseScheduler | None:
    """Start the scheduler inside this (web) process once, if ``LOYALTY_SCHEDULER`` says so.

    The service's entry points call it (``loyalty serve``, ``loyalty_plugin.wsgi``); a host
    that embeds the plugin in its own app calls it too if it wants the embedded scheduler.
    ``create_app()`` alone never starts one, so tests and commands run no background jobs.
    """
    if str(app.config.get("LOYALTY_SCHEDULER", "embedded")).lower() != "embedded":
        return None
    state = loyalty_state(app)
    if "scheduler" in state.extras:
        return state.extras["scheduler"]
    with _START_LOCK:
        if "scheduler" in state.extras:
            return state.extras["scheduler"]
        scheduler = build_scheduler(JobRunner(app))
        scheduler.start()
        state.extras["scheduler"] = scheduler
    atexit.register(_shutdown, scheduler)
    log.info("embedded scheduler started with %d jobs", len(scheduler.get_jobs()))
    return scheduler


def _shutdown(scheduler: BaseScheduler) -> None:
    if scheduler.running:
        scheduler.shutdown(wait=False)


def start_on_first_request(app: Flask) -> None:
    """Start the embedded scheduler on the first request each process serves.

    For pre-forking servers (gunicorn): threads do not survive a fork, so each worker
    starts its own scheduler after the fork, on its first request.
    """

    def start() -> None:
        start_embedded(app)

    app.before_request(start)
