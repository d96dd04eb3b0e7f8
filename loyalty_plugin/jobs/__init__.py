"""Periodic jobs: one small function per job, and one place that registers them.

:func:`builtin_jobs` is the single list of the engine's jobs; plugins add theirs with the
``register_jobs`` hook; :func:`all_jobs` joins both and applies ``LOYALTY_JOB_SCHEDULE``.
The scheduler (:mod:`loyalty_plugin.jobs.scheduler`) and ``loyalty jobs run NAME`` both go
through :class:`loyalty_plugin.jobs.runner.JobRunner`, which claims each run in the
database first, so a run happens once however many schedulers fire it.

A job's ``run`` receives a :class:`JobContext`: the app, a session wired to the event
sinks, the clock, and ``progress`` to report (and renew its lease). It returns the number
of rows it changed, a dict of counts, or ``None``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from flask import Flask

from loyalty_plugin.jobs.job import Job, JobContext
from loyalty_plugin.jobs.schedule import parse_schedule_overrides


def builtin_jobs() -> list[Job]:
    """The jobs the engine itself needs: the one registration point."""
    from loyalty_plugin.jobs import emails, expiry, levels, reminders, reports, spending, webhooks

    day = 86_400
    jobs = [
        Job(
            name="expire-points",
            run=expiry.expire_points,
            every_seconds=3600,
            offset_seconds=300,
            description="expire lots past their date, then accounts idle too long",
        ),
        Job(
            name="expiry-reminders",
            run=reminders.send_expiry_reminders,
            every_seconds=3600,
            offset_seconds=900,
            description="queue reminders before points (and coupons) expire",
        ),
        Job(
            name="birthday-greetings",
            run=reminders.send_birthday_greetings,
            every_seconds=day,
            offset_seconds=7 * 3600,
            description="queue birthday e-mails for today's birthdays",
        ),
        Job(
            name="send-emails",
            run=emails.send_emails,
            every_seconds=30,
            description="send queued e-mails over SMTP, with retries",
        ),
        Job(
            name="apply-host-events",
            run=_with_app(webhooks.apply_host_events),
            every_seconds=5,
            description="apply host events the high-load intake queued, in batches",
        ),
        Job(
            name="retry-host-events",
            run=_with_app(webhooks.retry_host_events),
            every_seconds=15,
            description="retry host events that failed, recheck waiting ones",
        ),
        Job(
            name="deliver-webhooks",
            run=_with_app(webhooks.deliver_outbox),
            every_seconds=5,
            description="post due outgoing webhooks to the hosts",
        ),
        Job(
            name="release-stale-holds",
            run=spending.release_stale_holds,
            every_seconds=300,
            description="release point holds nobody captured in time",
        ),
        Job(
            name="expire-coupons",
            run=spending.expire_coupons,
            every_seconds=3600,
            offset_seconds=600,
            description="mark coupons past their date expired (refunding points if set)",
        ),
        Job(
            name="review-levels",
            run=levels.review_levels,
            every_seconds=3600,
            offset_seconds=1200,
            description="review membership levels, end bought and given ones, apply new versions",
        ),
        Job(
            name="roll-up-reports",
            run=reports.roll_up_reports,
            every_seconds=300,
            offset_seconds=60,
            description="add new ledger entries to the reports' daily totals",
        ),
        Job(
            name="purge-idempotency-keys",
            run=spending.purge_idempotency_keys,
            every_seconds=day,
            offset_seconds=3 * 3600,
            description="forget API idempotency keys past their retention",
        ),
    ]
    # Every built-in job honours ``JobContext.merchant_id`` in all its queries.
    return [replace(job, per_merchant=True) for job in jobs]


def all_jobs(app: Flask) -> dict[str, Job]:
    """Built-in jobs, then those plugins register, with the configured schedules applied."""
    jobs = builtin_jobs()
    pm = app.extensions["loyalty"].plugin_manager
    if pm is not None:
        for registered in pm.hook.register_jobs():
            jobs.extend(registered or ())
    by_name: dict[str, Job] = {}
    for job in jobs:
        if job.name in by_name:
            raise ValueError(f"two jobs are named {job.name!r}")
        by_name[job.name] = job
    overrides = parse_schedule_overrides(app.config.get("LOYALTY_JOB_SCHEDULE"))
    for name, schedule in overrides.items():
        if name not in by_name:
            raise ValueError(f"LOYALTY_JOB_SCHEDULE names an unknown job {name!r}")
        if schedule is None:
            by_name[name] = replace(by_name[name], enabled=False)
        else:
            every, offset = schedule
            by_name[name] = replace(by_name[name], every_seconds=every, offset_seconds=offset)
    return by_name


def _with_app(function: Callable[..., Any]) -> Callable[[JobContext], Any]:
    """Adapt a job written as ``function(app, merchant_id=...)`` (it opens its own context
    and session)."""

    def run(ctx: JobContext) -> Any:
        return function(ctx.app, merchant_id=ctx.merchant_id)

    run.__name__ = run.__qualname__ = function.__name__
    run.__doc__ = function.__doc__
    return run


__all__ = ["Job", "JobContext", "all_jobs", "builtin_jobs"]
