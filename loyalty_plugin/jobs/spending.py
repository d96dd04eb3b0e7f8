"""Jobs of the spending side: stale holds, expired coupons, old idempotency records.

Each works in committed batches, from what is still due, so a crash loses at most the batch
in flight and a rerun finishes the rest. Register them in :func:`loyalty_plugin.jobs.builtin_jobs`
(``release-stale-holds`` every 5 minutes, ``expire-coupons`` hourly,
``purge-idempotency-keys`` daily).
"""

from __future__ import annotations

from datetime import timedelta

from loyalty_plugin.jobs.job import JobContext
from loyalty_plugin.services.idempotency import purge_keys
from loyalty_plugin.services.spending.coupons import expire_coupons as expire_coupon_batch
from loyalty_plugin.services.spending.redemption import release_stale_holds as release_hold_batch
from loyalty_plugin.services.transaction import run_in_transaction

BATCH = 500


def release_stale_holds(ctx: JobContext) -> int:
    """Release holds nobody captured within the merchant's ``hold_minutes``."""
    total = 0
    while batch := run_in_transaction(
        ctx.session,
        lambda s: release_hold_batch(s, now=ctx.now, limit=BATCH, merchant_id=ctx.merchant_id),
    ):
        total += len(batch)
        ctx.progress(total)
    return total


def expire_coupons(ctx: JobContext) -> int:
    """Mark coupons past their expiry as expired (and give points back where set)."""
    total = 0
    while batch := run_in_transaction(
        ctx.session,
        lambda s: expire_coupon_batch(s, now=ctx.now, limit=BATCH, merchant_id=ctx.merchant_id),
    ):
        total += len(batch)
        ctx.progress(total)
    return total


def purge_idempotency_keys(ctx: JobContext) -> int:
    """Forget API idempotency records older than ``LOYALTY_IDEMPOTENCY_RETENTION_DAYS``."""
    days = int(ctx.config["LOYALTY_IDEMPOTENCY_RETENTION_DAYS"])
    cutoff = ctx.now - timedelta(days=max(days, 7))
    return run_in_transaction(
        ctx.session, lambda s: purge_keys(s, older_than=cutoff, merchant_id=ctx.merchant_id)
    )
