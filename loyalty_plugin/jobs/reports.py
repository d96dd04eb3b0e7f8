"""The ``roll-up-reports`` job: keep the reports' live tail short.

Adds the ledger entries written since each merchant's watermark to the daily totals the
dashboard reads (:mod:`loyalty_plugin.services.reports.rollup`), a committed batch at a
time. The reports are exact without it; it only keeps them fast. Running it twice, or
stopping it half way, changes nothing in what they show.
"""

from __future__ import annotations

from loyalty_plugin.jobs.job import JobContext
from loyalty_plugin.services.reports.rollup import roll_up


def roll_up_reports(ctx: JobContext) -> dict[str, int]:
    """Roll the entries after each merchant's watermark up into its daily totals."""
    run = roll_up(ctx.session, merchant_id=ctx.merchant_id)
    return {"entries": run.entries, "watermark": run.watermark, "waited_out": int(run.waited_out)}
