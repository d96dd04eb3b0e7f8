"""Numbers, money and dates on admin pages, in the current merchant's locale and time zone.

The same filters as the e-mails and the portal; on pages about no merchant, English and UTC.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date as date_type
from datetime import datetime as datetime_type
from decimal import Decimal

from flask import g

from loyalty_plugin.email.render import Formatting, environment
from loyalty_plugin.extensions import get_session
from loyalty_plugin.services.messaging.email_templates import formatting


def _filters() -> dict[str, Callable[..., str]]:
    cached = g.get("admin_filters")
    if cached is None:
        admin = g.get("admin")
        merchant_id = admin.merchant_id if admin is not None else None
        fmt = formatting(get_session(), merchant_id) if merchant_id else Formatting(locale="en")
        cached = g.admin_filters = dict(environment(fmt, html=True).filters)
    return cached


def number(value: int | Decimal | None) -> str:
    """``12,345`` (the merchant's grouping)."""
    return _filters()["number"](value)


def money(value: Decimal | None, currency: str | None = None) -> str:
    """``€1,234.50``; the merchant's currency unless ``currency`` is given."""
    return _filters()["money"](value, currency)


#: A moment to the minute, in the locale's words: "5 Dec 2026, 21:34".
MINUTE = "d MMM y, HH:mm"


def datetime(value: datetime_type | None, format: str = MINUTE) -> str:
    """A moment in the merchant's time zone (Babel's ``medium``, ``short``... or a pattern)."""
    return _filters()["datetime"](value, format)


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
