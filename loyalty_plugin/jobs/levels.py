"""The ``review-levels`` job: level reviews, ends of bought and given levels, new versions.

Each batch of accounts is its own transaction and decides from what is stored, so a run
that stops half way loses at most its batch, and running twice changes nothing more.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from loyalty_plugin.jobs.job import JobContext
from loyalty_plugin.services.levels import memberships as levels
from loyalty_plugin.services.transaction import run_in_transaction

#: Accounts decided per transaction.
BATCH = 2000


def review_levels(ctx: JobContext) -> int:
    """Re-decide every member's level in every program with levels; the moves made."""
    return run_reviews(ctx.session, now=ctx.now, progress=ctx.progress, merchant_id=ctx.merchant_id)


def run_reviews(
    session: Session,
    *,
    now: datetime,
    batch_size: int = BATCH,
    progress: Callable[..., None] | None = None,
    merchant_id: str | None = None,
) -> int:
    """Review all programs with levels (of one merchant, or all), ``batch_size`` accounts a
    transaction."""
    programs = run_in_transaction(
        session, lambda s: levels.level_programs(s, at=now, merchant_id=merchant_id)
    )
    moves = done = 0
    for program in programs:
        after = 0
        while True:
            batch = run_in_transaction(
                session,
                lambda s, p=program, a=after: levels.review_batch(
                    s, p, now=now, after_account=a, limit=batch_size
                ),
            )
            if batch.done:
                break
            moves += batch.moves
            done += batch.accounts
            after = batch.last_account_id or after
            if progress is not None:
                progress(done)
    return moves
