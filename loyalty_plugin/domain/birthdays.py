"""Which birthday a host's ``customer.birthday`` event may count for.

A birthday counts for the year the event happened in, read in the merchant's time zone,
give or take :data:`YEAR_TOLERANCE` around midnight on New Year's Eve; and, when the
customer's date of birth is known, only on that day (29 February: 28 February or 1 March
in other years).
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from loyalty_plugin.domain.errors import ValidationError

#: How far from the event's moment its year may still be read. Wide enough for a host
#: whose clock is in any time zone while the merchant keeps the default (UTC).
YEAR_TOLERANCE = timedelta(hours=14)


def check_birthday(
    day: date, *, occurred_at: datetime, zone: ZoneInfo, date_of_birth: date | None = None
) -> None:
    """Raise :class:`ValidationError` on ``date`` unless ``day`` may count as a birthday."""
    years = {(occurred_at + shift).astimezone(zone).year for shift in _around()}
    if day.year not in years:
        raise ValidationError(
            f"a birthday sent on {occurred_at.astimezone(zone).date()} counts for "
            f"{' or '.join(map(str, sorted(years)))}, not {day.year}",
            field="date",
        )
    if date_of_birth is not None and not is_birthday(day, date_of_birth):
        raise ValidationError(
            f"{day} is not the customer's birthday (born {date_of_birth:%m-%d})", field="date"
        )


def is_birthday(day: date, date_of_birth: date) -> bool:
    """``day`` is the anniversary of ``date_of_birth`` (a leap-day birth's too)."""
    if (day.month, day.day) == (date_of_birth.month, date_of_birth.day):
        return True
    leap_birth = (date_of_birth.month, date_of_birth.day) == (2, 29)
    return (
        leap_birth and not calendar.isleap(day.year) and (day.month, day.day) in {(2, 28), (3, 1)}
    )


def _around() -> tuple[timedelta, timedelta, timedelta]:
    return -YEAR_TOLERANCE, timedelta(0), YEAR_TOLERANCE
