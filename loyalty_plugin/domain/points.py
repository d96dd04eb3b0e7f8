"""Points: signed integers, and the checks every ledger write starts with."""

from __future__ import annotations

from loyalty_plugin.domain.errors import ValidationError


def check_points(value: object, *, field: str = "points", positive: bool = True) -> int:
    """Return ``value`` if it is a non-zero integer (positive unless ``positive=False``)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(
            f"points must be a whole number, got {type(value).__name__}", field=field
        )
    if value == 0:
        raise ValidationError("points must not be zero", field=field)
    if positive and value < 0:
        raise ValidationError("points must be greater than 0", field=field)
    return value
