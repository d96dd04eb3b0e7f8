"""The reminder jobs: expiry reminders (points, then coupons) and birthday greetings.

Each batch commits on its own; what was reminded is recorded with the e-mail, so a second
run (or a second worker) finds nothing left to send.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from loyalty_plugin.jobs import JobContext
from loyalty_plugin.services import reminders
from loyalty_plugin.services.transaction import run_in_transaction

BATCH = 500


def send_expiry_reminders(ctx: JobContext) -> dict[str, int]:
    """Queue every reminder now due: points by lot and offset, then coupons."""
    lots = _drain(ctx, lambda s: reminders.expiry_reminder_batch(s, now=ctx.now, limit=BATCH))
    coupons = _drain(ctx, lambda s: reminders.coupon_reminder_batch(s, now=ctx.now, limit=BATCH))
    return {"lots": lots, "coupons": coupons}


def send_birthday_greetings(ctx: JobContext) -> int:
    """Queue today's birthday e-mails (once per customer and year)."""
    return run_in_transaction(ctx.session, lambda s: reminders.birthday_greetings(s, now=ctx.now))


def _drain(ctx: JobContext, batch: Callable[[Session], int]) -> int:
    """Run ``batch`` in its own transaction until it finds nothing more to do."""
    done = 0
    while count := run_in_transaction(ctx.session, batch):
        done += count
        ctx.progress(done)
        if count < BATCH:
            break
    return done
