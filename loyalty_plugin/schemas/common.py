"""Fields the webhook, API and program schemas share, so a bad value is refused once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from marshmallow import ValidationError, fields

#: Earliest and latest instants accepted (UTC): a year of room before ``datetime.max``,
#: so adding an expiry period or converting to another offset never overflows.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)


class AwareDateTime(fields.AwareDateTime):
    """An ISO 8601 date-time with an offset (or ``default_timezone``), in a storable range.

    ``9999-12-31T23:59:59-14:00`` is a valid ISO string whose UTC instant does not fit in a
    ``datetime``: it is refused here, naming the field, rather than overflowing later.
    """

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            in_range = EARLIEST <= moment.astimezone(UTC) < LATEST
        except OverflowError:
            in_range = False
        if not in_range:
            raise ValidationError(
                f"must be from {EARLIEST:%Y-%m-%d} to before {LATEST:%Y-%m-%d} (UTC)"
            )
        return moment
