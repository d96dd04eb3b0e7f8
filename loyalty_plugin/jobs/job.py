"""What a job is (:class:`Job`) and what it gets when it runs (:class:`JobContext`).

Kept apart from :mod:`loyalty_plugin.jobs`, which lists the jobs, so that the hook
specifications and the job modules can name these types without importing that list.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import Flask
from sqlalchemy.orm import Session


@dataclass
class JobContext:
    """What a job gets: the app, its session, the time it runs as, and a progress callback."""

    app: Flask
    #: The app's session, with the outbox, e-mail and hook sinks attached; commit per batch.
    session: Session
    #: The clock of this run (``loyalty jobs run NAME --at`` may set it).
    now: datetime
    #: ``progress(done, total=None)``: report rows done; also renews the run's lease.
    progress: Callable[..., None] = field(default=lambda done, total=None: None)
    #: A run for one merchant only ("run now" in the admin pages); ``None``: every merchant.
    #: A job honours it in every query it makes, so one merchant never runs another's work.
    merchant_id: str | None = None

    @property
    def config(self) -> Mapping[str, Any]:
        """The app's configuration."""
        return self.app.config


@dataclass(frozen=True, kw_only=True)
class Job:
    """A periodic job: its name, what it runs, and how often."""

    name: str
    run: Callable[[JobContext], Any]
    #: Interval between runs; runs fall on multiples of it counted from 2000-01-01 UTC.
    every_seconds: int
    #: Shift of the run times from those multiples (``86400`` + ``7200``: daily at 02:00 UTC).
    offset_seconds: int = 0
    #: How long a run holds its lease without renewing it (``ctx.progress`` renews it).
    lease_seconds: int | None = None
    description: str = ""
    #: ``False`` when ``LOYALTY_JOB_SCHEDULE`` switched the job off (``jobs run`` still works).
    enabled: bool = True
    #: Whether ``run`` honours ``JobContext.merchant_id`` (a merchant's owner may run it for
    #: their shop). Plugins' jobs say so themselves; the default keeps them operator-only.
    per_merchant: bool = False

    def __post_init__(self) -> None:
        if self.every_seconds < 1 or not 0 <= self.offset_seconds < self.every_seconds:
            raise ValueError(f"job {self.name}: bad schedule")
