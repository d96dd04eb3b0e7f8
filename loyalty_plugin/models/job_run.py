"""Job runs: the claim every scheduled run takes before it works, and its record.

Two rows make a run happen once, whatever the number of schedulers:

* a :class:`JobLease` per job: one holder at a time, renewed while it works, so two
  runs of a job never overlap; a dead holder's lease simply runs out;
* a :class:`JobRun` per job and scheduled time (unique): a slot that was run is never run
  again by a scheduler that fires late, and it is the run's record for the admin pages.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, Enum, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from loyalty_plugin.models.base import Base, BigId


class RunStatus(enum.StrEnum):
    """Where a run stands."""

    #: Claimed and working (or dead, once ``lease_until`` has passed).
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    #: Its holder stopped renewing the lease (the process died); the work was left as is.
    ABANDONED = "abandoned"


class JobRun(Base):
    """One run of one job: who claimed it, until when, and how it ended."""

    __tablename__ = "job_runs"
    __table_args__ = (
        UniqueConstraint("job", "scheduled_for"),
        Index("ix_job_runs_status_lease", "status", "lease_until"),
        Index("ix_job_runs_merchant", "merchant_id", "job"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: The job's registered name (``expire-points``...).
    job: Mapped[str] = mapped_column(String(64))
    #: The slot this run stands for; a manual run uses the moment it was asked for.
    scheduled_for: Mapped[datetime]
    #: ``schedule`` or ``manual``.
    trigger: Mapped[str] = mapped_column(String(16))
    status: Mapped[RunStatus] = mapped_column(
        Enum(
            RunStatus, native_enum=False, length=16, values_callable=lambda e: [k.value for k in e]
        )
    )
    #: ``host:pid`` of the process holding (or last holding) the run.
    owner: Mapped[str] = mapped_column(String(200))
    #: 1, or more when a run was taken over after its holder's lease ran out.
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    started_at: Mapped[datetime]
    #: The holder renews this while it works; a run past it is abandoned.
    lease_until: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    #: Rows the job changed (lots expired, e-mails sent...).
    rows: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Rows the job expected to touch, for progress, when it knows.
    total: Mapped[int | None] = mapped_column(BigInteger)
    #: The error of a failed run (type, message and the end of the traceback).
    error: Mapped[str | None] = mapped_column(Text)
    #: The merchant a run was scoped to ("run now" in the admin pages); ``None``: all of them.
    merchant_id: Mapped[str | None] = mapped_column(String(64))
    #: Who asked for a manual run (an actor label: ``staff:12``, ``cli:alice``...).
    started_by: Mapped[str | None] = mapped_column(String(200))

    @property
    def duration(self) -> float | None:
        """Seconds from start to end, for finished runs."""
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class JobLease(Base):
    """Who may run a job right now: one row per job, taken with a guarded UPDATE."""

    __tablename__ = "job_leases"

    job: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: The runner holding (or that last held) the lease.
    owner: Mapped[str] = mapped_column(String(200))
    #: The run the lease is for.
    run_id: Mapped[int | None] = mapped_column(BigInteger)
    #: Free once this has passed: released on finish, or timed out after a crash.
    lease_until: Mapped[datetime]
