"""The reports' calendar in SQL: a merchant's period, and the bucket a stored time is in."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Date, case, literal, literal_column
from sqlalchemy.orm import Session

from loyalty_plugin.domain.reports import Period, local_today, period
from loyalty_plugin.models import Merchant
from loyalty_plugin.models.base import UTCDateTime
from loyalty_plugin.services.ledger.accounts import get_merchant


def merchant_period(
    session: Session,
    *,
    merchant_id: str,
    first: date | None,
    last: date | None,
    now: datetime,
    limit: bool = True,
) -> tuple[Merchant, Period]:
    """The merchant and the period asked for, in the merchant's time zone."""
    merchant = get_merchant(session, merchant_id)
    zone = merchant.timezone or "UTC"
    today = local_today(now, zone)
    return merchant, period(first=first, last=last, today=today, zone=zone, limit=limit)


def instant(moment: datetime) -> ColumnElement[Any]:
    """A bound UTC time, compared with stored times the same way on every backend."""
    return literal(moment, UTCDateTime())


def bucket(column: Any, bounds: Sequence[datetime] | Sequence[date]) -> ColumnElement[int]:
    """The index ``i`` of the bucket ``bounds[i] <= column < bounds[i + 1]``.

    A balanced tree of ``CASE`` comparisons (about log2(buckets) per row), because the
    three backends share no function that moves a UTC time into a time zone: SQLite has
    none, and MariaDB's needs time-zone tables loaded. Rows outside the bounds must be
    filtered out by the caller. ``bounds`` are instants (stored times) or days (a date
    column, such as the reports' daily totals).
    """
    return _split(column, list(bounds), 0, len(bounds) - 1)


def _bound(value: datetime | date) -> ColumnElement[Any]:
    if isinstance(value, datetime):
        return instant(value)
    return literal(value, Date())


def _split(column: Any, bounds: list[Any], low: int, high: int) -> ColumnElement[int]:
    if high - low <= 1:
        return literal_column(str(int(low)))
    middle = (low + high) // 2
    return case(
        (column < _bound(bounds[middle]), _split(column, bounds, low, middle)),
        else_=_split(column, bounds, middle, high),
    )
