"""``loyalty intake``: the high-load intake's workers and its queue."""

from __future__ import annotations

import signal
import threading

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from loyalty_plugin.cli.jobs import _log_to_stderr
from loyalty_plugin.extensions import loyalty_state
from loyalty_plugin.jobs.webhooks import job_session
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.intake.queue import apply_queued, queue_backlog
from loyalty_plugin.services.intake.webhooks import IntakeSettings


@click.group()
def intake() -> None:
    """The high-load intake: apply queued host events, see the queue."""


@intake.command("work")
@click.option(
    "--batch",
    type=click.IntRange(1, 10_000),
    help="Events per transaction (default: LOYALTY_INTAKE_BATCH_SIZE).",
)
@click.option(
    "--idle",
    default=0.2,
    show_default=True,
    type=click.FloatRange(0.01, 60),
    help="Seconds to sleep when the queue is empty.",
)
@click.option("--once", is_flag=True, help="Apply one batch and stop.")
@click.option("--drain", is_flag=True, help="Apply batches until the queue is empty, then stop.")
@click.option("--merchant", "merchant_id", help="Only this merchant's events.")
@click.option(
    "--threads",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Worker threads in this process, each with its own connection.",
)
@with_appcontext
def work(
    batch: int | None,
    idle: float,
    once: bool,
    drain: bool,
    merchant_id: str | None,
    threads: int,
) -> None:
    """Apply queued host events in batches until stopped (SIGTERM or Ctrl-C).

    Run one or more next to the web workers when LOYALTY_WEBHOOK_INTAKE=queue. On
    PostgreSQL and MariaDB several workers (processes or threads), on one machine or
    several, share the queue: each claims rows nobody else holds. On SQLite run one. A
    stopped worker finishes its batch first; a killed one leaves its batch queued for the
    others.
    """
    _log_to_stderr()
    app = current_app._get_current_object()
    stop = threading.Event()
    if not (once or drain):
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        click.echo("intake worker running; stop with Ctrl-C or SIGTERM", err=True)
    loop = Loop(app, stop=stop, batch=batch, idle=idle, once=once, drain=drain)
    if threads == 1:
        loop.run(merchant_id)
    else:
        started = [
            threading.Thread(target=loop.run, args=(merchant_id,), name=f"intake-{n}")
            for n in range(threads)
        ]
        for thread in started:
            thread.start()
        for thread in started:
            thread.join()
    click.echo(f"applied {loop.applied} host events")


class Loop:
    """One worker's loop; several threads may run it, each in an app context of its own."""

    def __init__(
        self,
        app: Flask,
        *,
        stop: threading.Event,
        batch: int | None,
        idle: float,
        once: bool,
        drain: bool,
    ) -> None:
        self.app, self.stop, self.batch, self.idle = app, stop, batch, idle
        self.once, self.drain = once, drain
        self.settings = IntakeSettings.from_config(app.config)
        self.hooks = loyalty_state(app).plugin_manager.hook
        self.applied = 0
        self.lock = threading.Lock()

    def run(self, merchant_id: str | None) -> None:
        """Apply batches until stopped, or (``once``, ``drain``) done."""
        with self.app.app_context():
            while not self.stop.is_set():
                done = apply_queued(
                    job_session(self.app),
                    hooks=self.hooks,
                    settings=self.settings,
                    now=utcnow(),
                    limit=self.batch,
                    merchant_id=merchant_id,
                )
                with self.lock:
                    self.applied += done.done
                if self.once or (self.drain and done.claimed == 0):
                    break
                if done.done == 0:  # empty, or every claimed lane held by another worker
                    self.stop.wait(self.idle)


@intake.command("status")
@with_appcontext
def status() -> None:
    """How many host events are queued, and how long the oldest has waited."""
    count, age = queue_backlog(job_session(current_app), now=utcnow())
    mode = "queue" if IntakeSettings.from_config(current_app.config).queue else "sync"
    click.echo(f"intake mode: {mode}")
    click.echo(f"queued: {count}")
    click.echo(f"oldest waited: {age:.1f} s")
