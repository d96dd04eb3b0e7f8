"""Reports (staff may read): the dashboard (the merchant's home), journal, aging and exports.

Every filter is in the query string, so a report can be bookmarked and shared. The query
string is read by the API's own schemas (``schemas/reports.py``); a bad value re-renders
the page with status 422 and the message at its field. Exports stream CSV from the same
services as the API.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

from flask import Response, render_template, request, stream_with_context
from flask.typing import ResponseReturnValue
from marshmallow import EXCLUDE, Schema
from marshmallow import ValidationError as SchemaError

from loyalty_plugin.domain.errors import LoyaltyError
from loyalty_plugin.domain.ledger import EntryKind
from loyalty_plugin.domain.reports import ratio
from loyalty_plugin.extensions import get_session
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.schemas import reports as s
from loyalty_plugin.schemas.api import encode_cursor
from loyalty_plugin.services.reports import aging as aging_svc
from loyalty_plugin.services.reports import dashboard as dashboard_svc
from loyalty_plugin.services.reports import exports as exports_svc
from loyalty_plugin.services.reports import journal as journal_svc
from loyalty_plugin.web.admin import formats
from loyalty_plugin.web.admin.forms import field_errors, sentence

#: Journal rows per page.
JOURNAL_PAGE = 50


class BadQuery(Exception):
    """The query string has a bad value: ``errors`` is ``{field: message}``."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(errors)
        self.errors = errors


def dashboard(merchant_id: str) -> ResponseReturnValue:
    """The merchant's home: the dashboard for the period in the URL (default 12 weeks)."""
    return _render(
        "admin/reports/dashboard.html",
        "Dashboard",
        s.PeriodArgsSchema,
        lambda args: {
            "report": dashboard_svc.dashboard(
                get_session(),
                merchant_id=merchant_id,
                now=utcnow(),
                first=args.get("first"),
                last=args.get("last"),
            )
        },
    )


def journal(merchant_id: str) -> ResponseReturnValue:
    """Every ledger entry, newest first, filtered by the URL, a page at a time."""
    return _render(
        "admin/reports/journal.html",
        "Points journal",
        s.JournalArgsSchema,
        lambda args: {
            "page": journal_svc.journal_page(
                get_session(),
                merchant_id=merchant_id,
                where=journal_svc.JournalFilter.parse(args),
                before=args.get("cursor"),
                limit=JOURNAL_PAGE,
            ),
        },
        kinds=[kind.value for kind in EntryKind],
        encode_cursor=encode_cursor,
    )


def aging(merchant_id: str) -> ResponseReturnValue:
    """Open points by age band and expiry month, per group, customer or card."""
    return _render(
        "admin/reports/aging.html",
        "Aging",
        s.AgingArgsSchema,
        lambda args: {
            "report": aging_svc.aging(
                get_session(),
                merchant_id=merchant_id,
                now=utcnow(),
                by=args["by"],
                page=args["page"],
            ),
        },
        show="expiry" if request.args.get("show") == "expiry" else "bands",
        month_labels=_month_labels,
        share=ratio,
    )


def exports(merchant_id: str) -> ResponseReturnValue:
    """The three CSV downloads, each for the days chosen."""
    return _render("admin/reports/exports.html", "Exports", s.PeriodArgsSchema, lambda _a: {})


def journal_csv(merchant_id: str) -> ResponseReturnValue:
    """The journal as filtered in the URL, as a CSV download."""
    return _download(
        s.JournalFilterArgsSchema,
        "journal.csv",
        lambda args: exports_svc.journal_csv(
            get_session(), merchant_id=merchant_id, where=journal_svc.JournalFilter.parse(args)
        ),
    )


def customers_csv(merchant_id: str) -> ResponseReturnValue:
    """Every customer (or those created in the days given) and their points, as CSV."""
    return _download(
        s.PeriodArgsSchema,
        "customers.csv",
        lambda args: exports_svc.customers_csv(
            get_session(),
            merchant_id=merchant_id,
            now=utcnow(),
            first=args.get("first"),
            last=args.get("last"),
        ),
    )


def liability_csv(merchant_id: str) -> ResponseReturnValue:
    """Each customer's points over the period and their value at its end, as CSV."""
    return _download(
        s.PeriodArgsSchema,
        "liability.csv",
        lambda args: exports_svc.liability_csv(
            get_session(),
            merchant_id=merchant_id,
            now=utcnow(),
            first=args.get("first"),
            last=args.get("last"),
        ),
    )


# -- helpers -----------------------------------------------------------------------------


def _render(
    template: str, title: str, schema: type[Schema], read: Any, **always: Any
) -> ResponseReturnValue:
    """The page with what ``read(args)`` returns, or with the query's errors (422)."""
    values = _typed()
    try:
        figures = read(_parse(schema))
    except BadQuery as bad:
        return _page(template, title, values, errors=bad.errors, **always), 422
    except LoyaltyError as error:
        return _page(template, title, values, errors=field_errors(error), **always), 422
    return _page(template, title, values, **figures, **always)


def _page(template: str, title: str, values: dict[str, str], **context: Any) -> str:
    context.setdefault("errors", {})
    return render_template(template, page_title=title, values=values, **context)


def _download(schema: type[Schema], filename: str, lines: Any) -> ResponseReturnValue:
    try:
        produced: Iterator[str] = lines(_parse(schema))
    except (BadQuery, LoyaltyError) as bad:
        errors = bad.errors if isinstance(bad, BadQuery) else field_errors(bad)
        page = _page("admin/reports/exports.html", "Exports", _typed(), errors=errors)
        return page, 422
    return Response(
        stream_with_context(produced),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _month_labels(report: aging_svc.AgingReport) -> list[str]:
    """``Apr 2026`` ... then ``Later`` and ``Never``: the expiry columns as staff read them."""
    months = [formats.date(date.fromisoformat(f"{month}-01"), "MMM y") for month in report.months]
    return [*months, "Later", "Never"]


def _typed() -> dict[str, str]:
    """The query string's non-empty values, as typed (to fill the filters back in)."""
    return {key: value for key, value in request.args.items() if value.strip()}


def _parse(schema: type[Schema]) -> dict[str, Any]:
    """The query string read by ``schema``; :class:`BadQuery` with a message per field."""
    try:
        return schema().load(_typed(), unknown=EXCLUDE)
    except SchemaError as error:
        messages = error.normalized_messages()
        raise BadQuery({k: sentence(_text(v)) for k, v in messages.items()}) from None


def _text(messages: Any) -> str:
    if isinstance(messages, list | tuple):
        return str(messages[0])
    return str(messages)
