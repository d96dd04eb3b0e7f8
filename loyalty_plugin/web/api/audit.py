"""``GET /api/v1/audit``: the audit trail, searched and paged (admin scope)."""

from __future__ import annotations

from typing import Any

from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import ApiScope
from loyalty_plugin.schemas import audit as s
from loyalty_plugin.schemas.api import encode_cursor
from loyalty_plugin.services import audit as svc
from loyalty_plugin.web.api.auth import caller


def audit(query: dict[str, Any]) -> dict[str, Any]:
    """Who changed what and when, newest first, one page at a time."""
    session = get_session()
    merchant_id = caller().merchant(query.get("merchant_id"))
    page = svc.search_audit(
        session,
        merchant_id=merchant_id,
        query=svc.query_for_days(
            session,
            merchant_id=merchant_id,
            first=query.get("first"),
            last=query.get("last"),
            actor=query.get("actor"),
            action=query.get("action"),
            target_type=query.get("target_type"),
            target_id=query.get("target_id"),
        ),
        limit=query["limit"],
        before_id=query.get("cursor"),
    )
    following = page.next_before
    return {"data": page.entries, "next_cursor": encode_cursor(following) if following else None}


#: The audit route, as keyword arguments of the API blueprint's ``Route``.
ROUTES: tuple[dict[str, Any], ...] = (
    {"method": "GET", "rule": "/audit", "view": audit, "scope": ApiScope.ADMIN,
     "query": s.AuditArgsSchema, "response": s.AuditPageSchema, "errors": (404,)},
)  # fmt: skip
