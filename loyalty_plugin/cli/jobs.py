"""``loyalty scheduler`` and ``loyalty jobs``: run the scheduler, list and run jobs."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from datetime import UTC, datetime
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext

from loyalty_plugin.cli.actor import cli_actor
from loyalty_plugin.domain.errors import LoyaltyError
from loyalty_plugin.extensions import get_session
from loyalty_plugin.jobs.runner import JobRunner, Outcome, UnknownJob
from loyalty_plugin.jobs.schedule import describe, slot_for
from loyalty_plugin.jobs.scheduler import build_scheduler
from loyalty_plugin.models import JobRun
from loyalty_plugin.services.job_runs import last_runs, recent_runs


def _runner() -> JobRunner:
    return JobRunner(current_app._get_current_object())


def _log_to_stderr() -> None:
    logger = logging.getLogger("loyalty_plugin")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)


@click.command()
@with_appcontext
def scheduler() -> None:
    """Run every job on its schedule until stopped (SIGTERM or Ctrl-C).

    The production setup: run one of these next to the web workers and set
    LOYALTY_SCHEDULER=off for them. A second one started by mistake does no harm: each
    run is claimed in the database and happens once.
    """
    _log_to_stderr()
    runner = _runner()
    scheduled = build_scheduler(runner)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    scheduled.start()
    for job in runner.jobs.values():
        state = describe(job.every_seconds, job.offset_seconds) if job.enabled else "off"
        click.echo(f"  {job.name:<24} {state}", err=True)
    click.echo(f"scheduler running as {runner.owner}; stop with Ctrl-C or SIGTERM", err=True)
    while not stop.wait(1):
        pass
    click.echo("stopping: waiting for running jobs to finish", err=True)
    scheduled.shutdown(wait=True)


@click.group()
def jobs() -> None:
    """Scheduled jobs: their schedule, their runs, and running one now."""


@jobs.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_appcontext
def list_jobs(as_json: bool) -> None:
    """Each job's schedule, last run, last result and duration."""
    runner = _runner()
    last = last_runs(get_session())
    now = datetime.now(UTC)
    rows = [_job_row(job, last.get(name), now) for name, job in sorted(runner.jobs.items())]
    get_session().rollback()
    if as_json:
        from loyalty_plugin.cli import echo_json

        echo_json(rows)
        return
    header = ("job", "schedule", "last run (UTC)", "result", "rows", "secs")
    click.echo("{:<24} {:<22} {:<20} {:<10} {:>8} {:>8}".format(*header))
    for row in rows:
        rows_done = "-" if row["last_rows"] is None else str(row["last_rows"])
        click.echo(
            f"{row['name']:<24} {row['schedule']:<22} {(row['last_started'] or '-')[:19]:<20} "
            f"{row['last_status'] or '-':<10} {rows_done:>8} {_seconds(row['last_seconds']):>8}"
        )


@jobs.command("run")
@click.argument("name")
@click.option(
    "--at",
    type=click.DateTime(formats=["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"]),
    help="Run as if it were this time (UTC), e.g. to catch up or to test.",
)
@click.option(
    "--merchant",
    "merchant_id",
    help="Do this merchant's share only (recorded with the merchant and audited).",
)
@click.option("--by", help="Who asks for it, for the run and the audit trail (default: you).")
@with_appcontext
def run_job(
    name: str, at: datetime | None, merchant_id: str | None = None, by: str | None = None
) -> None:
    """Run job NAME once now, with a progress bar; exit 1 if it fails or is busy."""
    _log_to_stderr()
    if merchant_id is not None and at is not None:
        raise click.UsageError("--at and --merchant do not go together")
    if merchant_id is not None:
        outcome = _run_for_merchant(name, merchant_id, by)
    else:
        runner = _runner()
        bar = _ProgressBar(name)
        try:
            outcome = runner.run_now(
                name,
                at=at.replace(tzinfo=UTC) if at else None,
                progress=bar,
                started_by=cli_actor(by).label,
            )
        except UnknownJob as error:
            raise click.BadParameter(str(error), param_hint="NAME") from None
        finally:
            bar.close()
    if outcome.status == "skipped":
        click.echo(f"{name} not run: {outcome.detail}", err=True)
        sys.exit(1)
    if outcome.status == "failed":
        click.echo(f"{name} failed after {outcome.seconds:.1f}s:\n{outcome.detail}", err=True)
        sys.exit(1)
    click.echo(
        f"{name} succeeded: {outcome.rows} rows in {outcome.seconds:.1f}s (run {outcome.run_id})"
    )


@jobs.command("history")
@click.argument("name", required=False)
@click.option("--limit", default=20, show_default=True)
@click.option("--merchant", "merchant_id", help="Only runs that did this merchant's work.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_appcontext
def history(name: str | None, limit: int, as_json: bool, merchant_id: str | None = None) -> None:
    """The latest runs (of job NAME, or of all): when, who, how they ended."""
    found = recent_runs(get_session(), job=name, limit=limit, merchant_id=merchant_id)
    runs = [_run_row(run) for run in found]
    get_session().rollback()
    if as_json:
        from loyalty_plugin.cli import echo_json

        echo_json(runs)
        return
    for run in runs:
        click.echo(
            f"{run['id']:>6} {run['job']:<24} {run['started_at'][:19]} {run['status']:<10} "
            f"{run['rows']:>8} {_seconds(run['seconds']):>8}  {run['trigger']:<8} {run['owner']}"
        )
        if run["error"]:
            click.echo("       " + run["error"].splitlines()[0])


def _run_for_merchant(name: str, merchant_id: str, by: str | None) -> Outcome:
    from loyalty_plugin.jobs.overview import run_for_merchant
    from loyalty_plugin.services.ledger.accounts import get_merchant

    try:
        get_merchant(get_session(), merchant_id)
        get_session().rollback()
        return run_for_merchant(
            current_app._get_current_object(),
            name,
            merchant_id=merchant_id,
            actor=cli_actor(by),
            now=datetime.now(UTC),
        )
    except LoyaltyError as error:
        hint = "--merchant" if error.field in ("merchant_id", "merchant") else "NAME"
        raise click.BadParameter(error.message, param_hint=hint) from None


class _ProgressBar:
    """The job's progress on stderr: a bar once the job says how much there is to do."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.bar: Any = None

    def __call__(self, done: int, total: int | None) -> None:
        if self.bar is None and total:
            self.bar = click.progressbar(length=total, label=self.label, file=sys.stderr)
            self.bar.__enter__()
        if self.bar is not None:
            self.bar.update(max(0, done - self.bar.pos))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


def _job_row(job: Any, run: JobRun | None, now: datetime) -> dict[str, Any]:
    return {
        "name": job.name,
        "description": job.description,
        "schedule": describe(job.every_seconds, job.offset_seconds) if job.enabled else "off",
        "current_slot": slot_for(
            now, every_seconds=job.every_seconds, offset_seconds=job.offset_seconds
        ).isoformat(),
        "last_started": run.started_at.isoformat() if run else None,
        "last_status": run.status.value if run else None,
        "last_rows": run.rows if run else None,
        "last_seconds": run.duration if run else None,
        "last_error": run.error if run else None,
    }


def _run_row(run: JobRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "job": run.job,
        "trigger": run.trigger,
        "scheduled_for": run.scheduled_for.isoformat(),
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "status": run.status.value,
        "owner": run.owner,
        "attempt": run.attempt,
        "rows": run.rows,
        "total": run.total,
        "seconds": run.duration,
        "error": run.error,
        "merchant_id": run.merchant_id,
        "started_by": run.started_by,
    }


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"
