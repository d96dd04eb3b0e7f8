"""The ``expire-points`` job: date expiry in committed batches, then inactivity expiry.

Date expiry takes store credit lots past their date too (#19), in the same batches.

Each batch is its own transaction, so a crash loses at most the batch in flight, and the
next run starts from what is still due: nothing expires twice and nothing is left behind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from loyalty_plugin.jobs.job import JobContext
from loyalty_plugin.services.ledger import expiry
from loyalty_plugin.services.transaction import run_in_transaction


@dataclass
class Totals:
    """What a whole run expired (store credit per currency, in minor units)."""

    accounts: int = 0
    lots: int = 0
    points: int = 0
    batches: int = 0
    credit: dict[str, int] = field(default_factory=dict)

    def add(self, batch: expiry.Batch) -> None:
        self.accounts += batch.accounts
        self.lots += batch.lots
        self.points += batch.points
        self.batches += 1
        for unit, minor in batch.credit.items():
            self.credit[unit] = self.credit.get(unit, 0) + minor


def expire_points(ctx: JobContext) -> int:
    """Expire every lot past its date (points and store credit), then the points of idle
    accounts; lots expired."""
    size = int(ctx.config["LOYALTY_EXPIRY_BATCH_SIZE"])
    dated = run_date_expiry(
        ctx.session,
        now=ctx.now,
        batch_size=size,
        progress=ctx.progress,
        merchant_id=ctx.merchant_id,
    )
    idle = run_inactivity_expiry(
        ctx.session, now=ctx.now, batch_size=size, merchant_id=ctx.merchant_id
    )
    return dated.lots + idle.lots


def run_date_expiry(
    session: Session,
    *,
    now: datetime,
    batch_size: int = 2000,
    progress: Callable[..., None] | None = None,
    merchant_id: str | None = None,
) -> Totals:
    """Expire all lots due by ``now``, ``batch_size`` lots a transaction, in account order
    (of one merchant, or all)."""
    totals = Totals()
    total = run_in_transaction(
        session, lambda s: expiry.count_due_lots(s, now=now, merchant_id=merchant_id)
    )
    after = 0
    while True:
        batch = run_in_transaction(
            session,
            lambda s, after=after: expiry.expire_due_batch(
                s, now=now, after_account=after, limit=batch_size, merchant_id=merchant_id
            ),
        )
        if batch.done:
            return totals
        totals.add(batch)
        after = batch.last_account_id or after
        if progress is not None:
            progress(totals.lots, max(total, totals.lots))


def run_inactivity_expiry(
    session: Session, *, now: datetime, batch_size: int = 500, merchant_id: str | None = None
) -> Totals:
    """Expire all points of accounts idle longer than their merchant allows."""
    totals = Totals()
    cutoffs = run_in_transaction(
        session, lambda s: expiry.inactivity_cutoffs(s, now=now, merchant_id=merchant_id)
    )
    for merchant_id, cutoff in sorted(cutoffs.items()):
        after = 0
        while True:
            batch = run_in_transaction(
                session,
                lambda s, after=after, m=merchant_id, c=cutoff: expiry.expire_inactive_batch(
                    s, merchant_id=m, cutoff=c, now=now, after_account=after, limit=batch_size
                ),
            )
            if batch.done:
                break
            totals.add(batch)
            after = batch.last_account_id or after
    return totals
