"""Numbers, money and dates on admin pages, in the current merchant's locale and time zone.

The same filters as the e-mails and the portal; on pages about no merchant, English and UTC.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date as date_type
from datetime import datetime as datetime_type
from decimal import Decimal

from babel import Locale
from flask import g

from loyalty_plugin.email.render import Formatting, environment
from loyalty_plugin.extensions import get_session
from loyalty_plugin.services.messaging.email_templates import formatting


def _formatting() -> Formatting:
    cached = g.get("admin_formatting")
    if cached is None:
        admin = g.get("admin")
        merchant_id = admin.merchant_id if admin is not None else None
        fmt = formatting(get_session(), merchant_id) if merchant_id else Formatting(locale="en")
        cached = g.admin_formatting = fmt
    return cached


def _filters() -> dict[str, Callable[..., str]]:
    cached = g.get("admin_filters")
    if cached is None:
        cached = g.admin_filters = dict(environment(_formatting(), html=True).filters)
    return cached


def minute_pattern(locale: str) -> str:
    """The locale's medium date with its short time, as one pattern.

    The same day as :func:`date` writes it, so a page's dates read alike:
    "Dec 4, 2026, 9:55 PM" in ``en``, "4 Dec 2026, 21:55" in ``en_GB``.
    """
    words = Locale.parse(locale.replace("-", "_"))
    day = words.date_formats["medium"].pattern
    time = words.time_formats["short"].pattern
    return str(words.datetime_formats["medium"]).format(time, day)


def number(value: int | Decimal | None) -> str:
    """``12,345`` (the merchant's grouping)."""
    return _filters()["number"](value)


def money(value: Decimal | None, currency: str | None = None) -> str:
    """``€1,234.50``; the merchant's currency unless ``currency`` is given."""
    return _filters()["money"](value, currency)


def datetime(value: datetime_type | None, format: str | None = None) -> str:
    """A moment in the merchant's time zone (Babel's ``medium``, ``short``... or a pattern).

    By default to the minute, its day written as :func:`date` writes it (``minute_pattern``).
    """
    return _filters()["datetime"](value, format or minute_pattern(_formatting().locale))


def date(value: date_type | datetime_type | None, format: str = "medium") -> str:
    """A day (a moment is taken in the merchant's time zone)."""
    return _filters()["date"](value, format)


_BROWSERS = (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"),
             ("Chrome/", "Chrome"), ("Chromium/", "Chromium"), ("Safari/", "Safari"))  # fmt: skip
_SYSTEMS = (("Android", "Android"), ("iPhone", "iPhone"), ("iPad", "iPad"),
            ("Windows", "Windows"), ("Mac OS X", "macOS"), ("Linux", "Linux"))  # fmt: skip


def browser(user_agent: str | None) -> str:
    """A browser's ``User-Agent`` in words: "Chrome on Linux" ("Unknown browser" if none)."""
    text = user_agent or ""
    name = next((label for mark, label in _BROWSERS if mark in text), None)
    system = next((label for mark, label in _SYSTEMS if mark in text), None)
    if name and system:
        return f"{name} on {system}"
    return name or system or (text[:40] or "Unknown browser")


def percent(value: Decimal | None) -> str:
    """A ratio as ``19.4%`` (the merchant's digits), or a dash when there is none."""
    if value is None:
        return "\u2013"  # an en dash
    return number((value * 100).quantize(Decimal("0.1"))) + "%"
