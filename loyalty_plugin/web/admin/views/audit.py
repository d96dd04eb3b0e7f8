"""The Audit page (managers and owners): who changed what and when, searched, paged, exported.

The filters live in the query string (``actor``, ``action``, ``target_type``, ``target_id``,
``from``, ``to``; ``before`` is the page), so a search can be bookmarked and shared, and
the CSV link exports exactly what the page shows, streamed row by row.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import Response, render_template, request, stream_with_context
from flask.typing import ResponseReturnValue

from loyalty_plugin.domain.errors import LoyaltyError, ValidationError
from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import AuditEntry
from loyalty_plugin.services import audit
from loyalty_plugin.web.admin.forms import field_errors

#: Rows per page.
PAGE_SIZE = 50
#: The query-string filters, in the form's order.
FILTERS = ("actor", "action", "target_type", "target_id", "from", "to")
#: How each kind of actor is named on the page.
ACTOR_KINDS = {
    "staff": "staff",
    "api_key": "API key",
    "cli": "command line",
    "host": "host",
    "customer": "customer",
    "system": "system",
}
#: Longest value shown in a change before it is cut (the CSV and the API have it whole).
SHOWN = 300


@dataclass(frozen=True)
class Change:
    """One field of a row's diff, ready to show."""

    field: str
    before: str | None
    after: str | None

    @property
    def label(self) -> str:
        """The field's name as words (``max_invoice_share``: ``max invoice share``)."""
        return self.field.replace("_", " ")


@dataclass(frozen=True)
class Row:
    """One audit row, ready to show: the entry and its changed fields."""

    entry: AuditEntry
    #: ``created``, ``removed`` or ``changed``.
    kind: str
    changes: list[Change]


def audit_page(merchant_id: str) -> ResponseReturnValue:
    """The merchant's audit rows matching the filters, newest first, one page at a time."""
    values = {name: request.args.get(name, "").strip() for name in FILTERS}
    try:
        query = _query(merchant_id, values)
        page = audit.search_audit(
            get_session(),
            merchant_id=merchant_id,
            query=query,
            limit=PAGE_SIZE,
            before_id=_before(),
        )
    except LoyaltyError as error:
        return _render(values, rows=[], errors=field_errors(error, default="form"), status=422)
    return _render(values, rows=[_row(e) for e in page.entries], next_before=page.next_before)


def audit_csv(merchant_id: str) -> ResponseReturnValue:
    """The same search as CSV, every page of it, streamed as it is read."""
    values = {name: request.args.get(name, "").strip() for name in FILTERS}
    try:
        query = _query(merchant_id, values)
    except LoyaltyError as error:
        return _render(values, rows=[], errors=field_errors(error, default="form"), status=422)
    lines = audit.export_csv(get_session(), merchant_id=merchant_id, query=query)
    return Response(
        stream_with_context(lines),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="audit-{merchant_id}.csv"'},
    )


def _query(merchant_id: str, values: dict[str, str]) -> audit.AuditQuery:
    return audit.query_for_days(
        get_session(),
        merchant_id=merchant_id,
        first=_day(values["from"], "from"),
        last=_day(values["to"], "to"),
        actor=values["actor"],
        action=values["action"],
        target_type=values["target_type"],
        target_id=values["target_id"],
    )


def _day(text: str, name: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationError("a day as YYYY-MM-DD", field=name) from None


def _before() -> int | None:
    text = request.args.get("before", "")
    if not text:
        return None
    if not text.isdigit() or len(text) > 18:
        raise ValidationError("not a page of this list", field="before")
    return int(text)


def _row(entry: AuditEntry) -> Row:
    if entry.before is None:  # created: what it was created with (fields left empty aside)
        fields = sorted((k, v) for k, v in (entry.after or {}).items() if v is not None)
        return Row(entry, "created", [Change(k, None, _shown(v)) for k, v in fields])
    if entry.after is None:
        fields = sorted(entry.before.items())
        return Row(entry, "removed", [Change(k, _shown(v), None) for k, v in fields])
    changes = [Change(k, _shown(b), _shown(a)) for k, b, a in audit.changes(entry)]
    return Row(entry, "changed", changes)


def _shown(value: Any) -> str:
    """A value as text: ``—`` for none, yes/no, JSON for lists and objects, cut when long."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text if len(text) <= SHOWN else text[: SHOWN - 1] + "…"


def _render(
    values: dict[str, str],
    *,
    rows: list[Row],
    next_before: int | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    filters = {k: v for k, v in values.items() if v}
    return (
        render_template(
            "admin/audit/list.html",
            page_title="Audit trail",
            values=values,
            filters=filters,
            rows=rows,
            next_before=next_before,
            first_page=not request.args.get("before"),
            errors=errors or {},
            actions=audit.KNOWN_ACTIONS,
            actor_kinds=ACTOR_KINDS,
        ),
        status,
    )
