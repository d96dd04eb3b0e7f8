"""Prometheus metrics: what the processes count, and what the database says at scrape time.

Counters and histograms are kept by each process (``prometheus_client``); under gunicorn
set ``PROMETHEUS_MULTIPROC_DIR`` to an empty folder so every worker's figures are summed
(``prometheus_client``'s multiprocess mode). Backlogs are not counted but read from the
database when ``/metrics`` is scraped, so they are right whichever process did the work.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from loyalty_plugin.models import (
    EmailMessage,
    EmailStatus,
    InboxStatus,
    JobRun,
    LedgerEntry,
    OutboxMessage,
    OutboxStatus,
    WebhookEvent,
)
from loyalty_plugin.models.job_run import RunStatus

#: Latency buckets in seconds, from a fast intake to a queue minutes behind.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900)

EVENTS = Counter(
    "loyalty_host_events",
    "Host events that reached an outcome (processed, waiting, pending, rejected, dead, "
    "queued), by type",
    ["type", "status"],
)
INTAKE_SECONDS = Histogram(
    "loyalty_webhook_intake_seconds",
    "Seconds POST /webhooks took, by intake mode and HTTP status",
    ["mode", "code"],
    buckets=BUCKETS,
)
APPLY_SECONDS = Histogram(
    "loyalty_host_event_apply_seconds",
    "Seconds from receiving a host event to applying it (queue: the wait in the queue)",
    ["mode"],
    buckets=BUCKETS,
)
#: Sessions of the current database waiting for a lock, by dialect.
_LOCK_WAITS = {
    "postgresql": (
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    ),
    "mysql": "SELECT count(*) FROM information_schema.innodb_trx WHERE trx_state = 'LOCK WAIT'",
}
#: The statuses counted from the database at scrape time (small sets, indexed by status).
OPEN_STATUSES = (
    InboxStatus.QUEUED,
    InboxStatus.WAITING,
    InboxStatus.PENDING,
    InboxStatus.DEAD,
)


def count_event(event_type: str | None, status: str) -> None:
    """Count a host event's committed outcome."""
    EVENTS.labels(type=event_type or "unknown", status=status).inc()


def observe_intake(seconds: float, *, mode: str, code: int) -> None:
    """Record one ``POST /webhooks``."""
    INTAKE_SECONDS.labels(mode=mode, code=str(code)).observe(seconds)


def observe_applied(seconds: float, *, mode: str) -> None:
    """Record how long after its receipt a host event was applied."""
    APPLY_SECONDS.labels(mode=mode).observe(seconds)


class DatabaseCollector(Collector):
    """Backlogs and job outcomes, read from the database when scraped."""

    def __init__(self, session: Session, now: datetime) -> None:
        self.session = session
        self.now = now

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield from self._inbox()
        yield from self._outgoing()
        yield from self._jobs()
        yield from self._ledger()

    def _ledger(self) -> Iterator[GaugeMetricFamily]:
        last = self.session.scalar(select(func.max(LedgerEntry.id))) or 0
        yield GaugeMetricFamily(
            "loyalty_ledger_last_entry_id",
            "Id of the newest ledger entry: its rate() is ledger operations per second",
            value=last,
        )
        waiting = self._lock_waits()
        if waiting is not None:
            yield GaugeMetricFamily(
                "loyalty_database_lock_waits",
                "Database sessions waiting for a lock now (account locks, mostly)",
                value=waiting,
            )

    def _lock_waits(self) -> int | None:
        """Sessions of this database waiting for a lock; ``None`` when it cannot be read
        (MariaDB without the PROCESS privilege)."""
        dialect = self.session.get_bind().dialect.name
        if dialect == "sqlite":
            return 0
        query = _LOCK_WAITS.get(dialect)
        if query is None:
            return None
        try:
            with self.session.begin_nested():
                return int(self.session.scalar(text(query)) or 0)
        except DBAPIError:
            return None

    def _inbox(self) -> Iterator[GaugeMetricFamily]:
        stored = GaugeMetricFamily(
            "loyalty_host_events_stored",
            "Stored host events not done yet (queued, waiting, pending, dead), by type",
            labels=["type", "status"],
        )
        rows = self.session.execute(
            select(WebhookEvent.status, WebhookEvent.event_type, func.count())
            .where(WebhookEvent.status.in_(OPEN_STATUSES))
            .group_by(WebhookEvent.status, WebhookEvent.event_type)
        )
        seen = set()
        for status, event_type, count in rows:
            stored.add_metric([event_type or "unknown", status.value], count)
            seen.add(status)
        yield stored
        count, oldest = self._backlog(WebhookEvent, WebhookEvent.received_at, InboxStatus.QUEUED)
        yield GaugeMetricFamily(
            "loyalty_intake_backlog", "Host events queued by the high-load intake", value=count
        )
        yield GaugeMetricFamily(
            "loyalty_intake_backlog_oldest_seconds",
            "Age of the oldest queued host event (0 when none)",
            value=oldest,
        )

    def _outgoing(self) -> Iterator[GaugeMetricFamily]:
        count, oldest = self._backlog(OutboxMessage, OutboxMessage.created_at, OutboxStatus.PENDING)
        yield GaugeMetricFamily(
            "loyalty_outbox_backlog", "Outgoing webhooks not delivered yet", value=count
        )
        yield GaugeMetricFamily(
            "loyalty_outbox_backlog_oldest_seconds",
            "Age of the oldest undelivered outgoing webhook (0 when none)",
            value=oldest,
        )
        count, oldest = self._backlog(EmailMessage, EmailMessage.created_at, EmailStatus.QUEUED)
        yield GaugeMetricFamily("loyalty_email_backlog", "E-mails not sent yet", value=count)

    def _jobs(self) -> Iterator[GaugeMetricFamily]:
        runs = GaugeMetricFamily(
            "loyalty_job_runs",
            "Job runs in the kept history, by job and outcome",
            labels=["job", "status"],
        )
        for job, status, count in self.session.execute(
            select(JobRun.job, JobRun.status, func.count()).group_by(JobRun.job, JobRun.status)
        ):
            runs.add_metric([job, status.value], count)
        yield runs
        failed = GaugeMetricFamily(
            "loyalty_job_last_run_failed",
            "1 when a job's latest finished run failed or was abandoned, else 0",
            labels=["job"],
        )
        for job, status in self._last_finished():
            failed.add_metric([job], 0 if status == RunStatus.SUCCEEDED else 1)
        yield failed

    def _last_finished(self) -> list[tuple[str, RunStatus]]:
        latest = (
            select(JobRun.job, func.max(JobRun.id).label("id"))
            .where(JobRun.status != RunStatus.RUNNING)
            .group_by(JobRun.job)
            .subquery()
        )
        rows = self.session.execute(
            select(JobRun.job, JobRun.status)
            .join(latest, latest.c.id == JobRun.id)
            .order_by(JobRun.job)
        )
        return [(job, status) for job, status in rows]

    def _backlog(self, model: Any, column: Any, status: Any) -> tuple[int, float]:
        count, oldest = self.session.execute(
            select(func.count(), func.min(column)).where(model.status == status)
        ).one()
        if not count or oldest is None:
            return 0, 0.0
        if oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=self.now.tzinfo)
        return int(count), max(0.0, (self.now - oldest).total_seconds())


def render(session: Session, *, now: datetime) -> tuple[bytes, str]:
    """The Prometheus text exposition of every metric, and its content type."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        counted = CollectorRegistry()
        multiprocess.MultiProcessCollector(counted)
    else:
        counted = REGISTRY
    database = CollectorRegistry(auto_describe=False)
    database.register(DatabaseCollector(session, now))
    return generate_latest(counted) + generate_latest(database), CONTENT_TYPE_LATEST
