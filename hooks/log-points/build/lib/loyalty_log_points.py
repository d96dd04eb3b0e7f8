"""Example plugin: forward every committed ``points_earned`` event to a log.

A notification hook runs after the ledger transaction commits, so it never logs points that
were rolled back; if it raises, the error is logged and the points stay. Install it with
``pip install hooks/log-points`` or name the module in ``LOYALTY_PLUGINS``.
"""

from __future__ import annotations

import logging

from loyalty_plugin import hookimpl
from loyalty_plugin.domain.events import PointsEarned

log = logging.getLogger("loyalty.points")


@hookimpl
def points_earned(event: PointsEarned) -> None:
    log.info(
        "%s earned %d points with %s (balance %d, %s)",
        event.customer_id,
        event.points,
        event.merchant_id,
        event.balance,
        event.reference or "no reference",
    )
