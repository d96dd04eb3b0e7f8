"""Admin pages write a day the same way in a date and in a moment, in the merchant's locale."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from flask import Flask, g

from loyalty_plugin.email.render import Formatting
from loyalty_plugin.web.admin import formats

MOMENT = datetime(2026, 12, 4, 21, 55, tzinfo=UTC)


@pytest.mark.parametrize(
    ("locale", "day", "moment"),
    [
        ("en", "Dec 4, 2026", "Dec 4, 2026, 9:55\u202fPM"),
        ("en_GB", "4 Dec 2026", "4 Dec 2026, 21:55"),
        ("de", "04.12.2026", "04.12.2026, 21:55"),
    ],
)
def test_a_moment_starts_with_the_day_as_a_date_writes_it(
    app: Flask, locale: str, day: str, moment: str
) -> None:
    """``admin_date`` and ``admin_datetime`` agree (they did not: "Nov 7, 2026" beside
    "4 Dec 2026, 21:55" on one page), in the merchant's locale and time zone."""
    with app.test_request_context():
        g.admin_formatting = Formatting(locale=locale, tz=UTC)
        assert formats.date(MOMENT) == day
        assert formats.datetime(MOMENT) == moment
        assert formats.datetime(MOMENT).startswith(formats.date(MOMENT))


def test_the_day_is_the_merchants_day(app: Flask) -> None:
    """21:55 UTC is already the next day in Tokyo, in both."""
    with app.test_request_context():
        g.admin_formatting = Formatting(locale="en_GB", tz=ZoneInfo("Asia/Tokyo"))
        assert formats.date(MOMENT) == "5 Dec 2026"
        assert formats.datetime(MOMENT) == "5 Dec 2026, 06:55"
