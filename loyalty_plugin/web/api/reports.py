"""``/api/v1/reports/...`` and ``/api/v1/exports/...``: the dashboard, journal, aging and CSV.

Read-scoped. The JSON reports are answered whole; the exports stream one CSV line at a
time from :mod:`loyalty_plugin.services.reports.exports`, which reads the database in
keyset pages as the response is sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Response, stream_with_context

from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import ApiScope
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.schemas import reports as s
from loyalty_plugin.services.reports import aging as aging_svc
from loyalty_plugin.services.reports import dashboard as dashboard_svc
from loyalty_plugin.services.reports import exports
from loyalty_plugin.services.reports import journal as journal_svc
from loyalty_plugin.web.api.auth import caller


def dashboard(query: dict[str, Any]) -> Any:
    """The dashboard's figures for a period."""
    return dashboard_svc.dashboard(
        get_session(),
        merchant_id=caller().merchant(query.get("merchant_id")),
        now=utcnow(),
        first=query.get("first"),
        last=query.get("last"),
    )


def journal(query: dict[str, Any]) -> Any:
    """One page of the points journal, newest first."""
    return journal_svc.journal_page(
        get_session(),
        merchant_id=caller().merchant(query.get("merchant_id")),
        where=journal_svc.JournalFilter.parse(query),
        before=query.get("cursor"),
        limit=query["limit"],
    )


def aging(query: dict[str, Any]) -> Any:
    """Open points by age band and expiry month, one page of rows."""
    return aging_svc.aging(
        get_session(),
        merchant_id=caller().merchant(query.get("merchant_id")),
        now=utcnow(),
        by=query["by"],
        page=query["page"],
    )


def customers_csv(query: dict[str, Any]) -> Response:
    """Every customer (created in the days, if given) and their points, as CSV."""
    lines = exports.customers_csv(
        get_session(),
        merchant_id=caller().merchant(query.get("merchant_id")),
        now=utcnow(),
        first=query.get("first"),
        last=query.get("last"),
    )
    return csv_response(lines, "customers.csv")


def journal_csv(query: dict[str, Any]) -> Response:
    """The journal's entries the filter selects, as CSV."""
    lines = exports.journal_csv(
        get_session(),
        merchant_id=caller().merchant(query.get("merchant_id")),
        where=journal_svc.JournalFilter.parse(query),
    )
    return csv_response(lines, "journal.csv")


def liability_csv(query: dict[str, Any]) -> Response:
    """Each customer's points rolled over the period, and their value, as CSV."""
    lines = exports.liability_csv(
        get_session(),
        merchant_id=caller().merchant(query.get("merchant_id")),
        now=utcnow(),
        first=query.get("first"),
        last=query.get("last"),
    )
    return csv_response(lines, "liability.csv")


def csv_response(lines: Iterator[str], filename: str) -> Response:
    """A streamed CSV download (the request's session stays open until the last line)."""
    return Response(
        stream_with_context(lines),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


READ = ApiScope.READ

#: The report routes, as keyword arguments of the API blueprint's ``Route``.
ROUTES: tuple[dict[str, Any], ...] = (
    {"method": "GET", "rule": "/reports/dashboard", "view": dashboard, "scope": READ,
     "query": s.PeriodArgsSchema, "response": s.DashboardSchema, "errors": (404,)},
    {"method": "GET", "rule": "/reports/journal", "view": journal, "scope": READ,
     "query": s.JournalArgsSchema, "response": s.JournalPageSchema, "errors": (404,)},
    {"method": "GET", "rule": "/reports/aging", "view": aging, "scope": READ,
     "query": s.AgingArgsSchema, "response": s.AgingSchema, "errors": (404,)},
    {"method": "GET", "rule": "/exports/customers.csv", "view": customers_csv, "scope": READ,
     "query": s.PeriodArgsSchema, "csv_answer": True, "errors": (404,)},
    {"method": "GET", "rule": "/exports/journal.csv", "view": journal_csv, "scope": READ,
     "query": s.JournalFilterArgsSchema, "csv_answer": True, "errors": (404,)},
    {"method": "GET", "rule": "/exports/liability.csv", "view": liability_csv, "scope": READ,
     "query": s.PeriodArgsSchema, "csv_answer": True, "errors": (404,)},
)  # fmt: skip
