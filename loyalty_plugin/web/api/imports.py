"""``POST /api/v1/customers/import`` and ``/opening-balances/import``: CSV in, a report out.

Admin-scoped. The body is read as a stream and written in committed batches by
:mod:`loyalty_plugin.services.intake.imports`, so these routes run outside the API's one-request
transaction (``read_only`` in the route table) and need no ``Idempotency-Key``: importing
the same file twice changes nothing the first run did.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import Any

from flask import request

from loyalty_plugin.domain.errors import ValidationError
from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import ApiScope
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.schemas import imports as s
from loyalty_plugin.services.intake import imports as svc
from loyalty_plugin.services.intake.imports import ImportReport
from loyalty_plugin.web.api.auth import caller
from loyalty_plugin.web.errors import error_response

CSV = "text/csv"


def import_customers(query: dict[str, Any]) -> Any:
    """Create or update customers from the CSV body, by the host's customer id."""
    merchant_id = caller().merchant(query.get("merchant_id"))
    return _import(
        lambda lines: svc.import_customers(
            get_session(),
            merchant_id=merchant_id,
            lines=lines,
            now=utcnow(),
            dry_run=query["dry_run"],
        )
    )


def import_balances(query: dict[str, Any]) -> Any:
    """Give the customers of the CSV body their opening balance, once."""
    who = caller()
    merchant_id = who.merchant(query.get("merchant_id"))
    return _import(
        lambda lines: svc.import_balances(
            get_session(),
            merchant_id=merchant_id,
            lines=lines,
            now=utcnow(),
            actor=who.label,
            dry_run=query["dry_run"],
        )
    )


def _import(run: Callable[[Iterator[str]], ImportReport]) -> Any:
    if request.mimetype != CSV:
        return error_response(
            415,
            "unsupported_media_type",
            f"send the file as the body with 'Content-Type: {CSV}' (UTF-8)",
            {"Content-Type": [f"must be {CSV}"]},
        )
    try:
        return run(_lines()).as_dict()
    except UnicodeDecodeError:
        raise ValidationError("the body is not UTF-8 text", field="body") from None


def _lines() -> Iterator[str]:
    """The body's lines, read as they arrive (a BOM is dropped)."""
    stream = io.TextIOWrapper(io.BufferedReader(request.stream), encoding="utf-8-sig", newline="")
    yield from stream


ADMIN = ApiScope.ADMIN

#: The import routes, as keyword arguments of the API blueprint's ``Route``.
ROUTES: tuple[dict[str, Any], ...] = (
    {"method": "POST", "rule": "/customers/import", "view": import_customers, "scope": ADMIN,
     "query": s.ImportArgsSchema, "response": s.CustomerImportReportSchema,
     "read_only": True, "csv_body": True, "errors": (404, 415)},
    {"method": "POST", "rule": "/opening-balances/import", "view": import_balances,
     "scope": ADMIN, "query": s.ImportArgsSchema, "response": s.BalanceImportReportSchema,
     "read_only": True, "csv_body": True, "errors": (404, 415)},
)  # fmt: skip
