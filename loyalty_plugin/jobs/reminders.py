"""The reminder jobs: expiry reminders (points, then coupons) and birthday greetings.

Each batch commits on its own; what was reminded is recorded with the e-mail, so a second
run (or a second worker) finds nothing left to send.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from sqlalchemy.orm import Session

from loyalty_plugin.extensions import loyalty_state
from loyalty_plugin.jobs.job import JobContext
from loyalty_plugin.services.messaging import reminders
from loyalty_plugin.services.transaction import run_in_transaction

BATCH = 500


def send_expiry_reminders(ctx: JobContext) -> dict[str, int]:
    """Queue every reminder now due: points by lot and offset, then coupons."""
    scope = {"now": ctx.now, "limit": BATCH, "merchant_id": ctx.merchant_id}
    lots = _drain(ctx, lambda s: reminders.expiry_reminder_batch(s, **scope))
    coupons = _drain(ctx, lambda s: reminders.coupon_reminder_batch(s, **scope))
    return {"lots": lots, "coupons": coupons}


def send_birthday_greetings(ctx: JobContext) -> dict[str, int]:
    """Give today's birthday bonuses and queue the e-mails (once per customer and year).

    Customers go in batches, each committed on its own: a run that stops leaves the
    batches done, and the next run skips what they did.
    """
    hooks = loyalty_state(ctx.app).plugin_manager.hook
    due = run_in_transaction(
        ctx.session,
        lambda s: reminders.birthdays_today(s, now=ctx.now, merchant_id=ctx.merchant_id),
    )
    done = {"bonuses": 0, "emails": 0}
    for merchant_id, today, ids in due:
        for start in range(0, len(ids), BATCH):
            greet = partial(
                reminders.birthday_greetings,
                merchant_id=merchant_id,
                today=today,
                customer_ids=ids[start : start + BATCH],
                hooks=hooks,
                now=ctx.now,
            )
            counts = run_in_transaction(ctx.session, greet)
            done = {key: done[key] + counts[key] for key in done}
            ctx.progress(sum(done.values()))
    return done


def _drain(ctx: JobContext, batch: Callable[[Session], int]) -> int:
    """Run ``batch`` in its own transaction until it finds nothing more to do."""
    done = 0
    while count := run_in_transaction(ctx.session, batch):
        done += count
        ctx.progress(done)
        if count < BATCH:
            break
    return done
