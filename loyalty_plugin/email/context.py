"""Template data as JSON: stored with a queued message, read back with its types.

JSON has no decimals or dates, so they are tagged (``{"$decimal": "5.00"}``,
``{"$date": "2026-04-30"}``, ``{"$datetime": "..."}``) and restored when the message is
rendered: a money amount is still a ``Decimal`` and a date still a ``date``.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any


def dump(value: Any) -> Any:
    """``value`` with decimals and dates tagged, ready for a JSON column."""
    if isinstance(value, dict):
        return {str(k): dump(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [dump(v) for v in value]
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"cannot store {type(value).__name__} in an e-mail's data")


def load(value: Any) -> Any:
    """The inverse of :func:`dump`."""
    if isinstance(value, list):
        return [load(v) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((tag, raw),) = value.items()
        if tag == "$decimal":
            return Decimal(raw)
        if tag == "$datetime":
            return datetime.fromisoformat(raw)
        if tag == "$date":
            return date.fromisoformat(raw)
    return {k: load(v) for k, v in value.items()}
