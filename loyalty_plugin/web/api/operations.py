"""``/api/v1/jobs`` and ``/api/v1/emails``: the jobs and "run now" for the key's merchant,
the e-mail outbox with retry and cancel (admin scope). The same services as the admin's
Jobs and Outbox screens and ``loyalty jobs`` / ``loyalty emails``."""

from __future__ import annotations

from typing import Any

from flask import current_app

from loyalty_plugin.extensions import get_session
from loyalty_plugin.jobs.overview import job_statuses, run_for_merchant
from loyalty_plugin.models import ApiScope
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.schemas import operations as s
from loyalty_plugin.schemas.api import MerchantArgsSchema, encode_cursor
from loyalty_plugin.services.messaging import email_outbox
from loyalty_plugin.web.api.auth import caller

ID = "int(min=1, max=9223372036854775807)"


def list_jobs(query: dict[str, Any]) -> dict[str, Any]:
    """Every job: schedule, next run, last runs that did this merchant's work."""
    merchant_id = caller().merchant(query.get("merchant_id"))
    app = current_app._get_current_object()
    return {"data": job_statuses(app, get_session(), merchant_id=merchant_id, now=utcnow())}


def run_job(query: dict[str, Any], name: str) -> Any:
    """Run job ``name`` now for this merchant's share only; recorded and audited."""
    who = caller()
    merchant_id = who.merchant(query.get("merchant_id"))
    get_session().rollback()
    app = current_app._get_current_object()
    return run_for_merchant(app, name, merchant_id=merchant_id, actor=who.actor, now=utcnow())


def list_emails(query: dict[str, Any]) -> dict[str, Any]:
    """The merchant's e-mails newest first, of one status or all."""
    page = email_outbox.list_emails(
        get_session(),
        merchant_id=caller().merchant(query.get("merchant_id")),
        status=query.get("status"),
        before_id=query.get("cursor"),
        limit=query["limit"],
    )
    following = page.next_before
    return {"data": page.emails, "next_cursor": encode_cursor(following) if following else None}


def retry_email(query: dict[str, Any], email_id: int) -> Any:
    """Queue a failed e-mail again, due now."""
    who = caller()
    merchant_id = who.merchant(query.get("merchant_id"))
    return email_outbox.retry_email(
        get_session(), merchant_id=merchant_id, email_id=email_id, now=utcnow(), actor=who.actor
    )


def cancel_email(query: dict[str, Any], email_id: int) -> Any:
    """Take a queued e-mail out of the queue; it is never sent."""
    who = caller()
    merchant_id = who.merchant(query.get("merchant_id"))
    return email_outbox.cancel_email(
        get_session(), merchant_id=merchant_id, email_id=email_id, now=utcnow(), actor=who.actor
    )


#: The operations routes, as keyword arguments of the API blueprint's ``Route``.
ROUTES: tuple[dict[str, Any], ...] = (
    {"method": "GET", "rule": "/jobs", "view": list_jobs, "scope": ApiScope.ADMIN,
     "query": MerchantArgsSchema, "response": s.JobListSchema},
    {"method": "POST", "rule": "/jobs/<name>/run", "view": run_job, "scope": ApiScope.ADMIN,
     "query": MerchantArgsSchema, "response": s.JobOutcomeSchema, "read_only": True,
     "errors": (404, 409)},
    {"method": "GET", "rule": "/emails", "view": list_emails, "scope": ApiScope.ADMIN,
     "query": s.EmailArgsSchema, "response": s.EmailPageSchema},
    {"method": "POST", "rule": f"/emails/<{ID}:email_id>/retry", "view": retry_email,
     "scope": ApiScope.ADMIN, "query": MerchantArgsSchema, "response": s.EmailSchema,
     "idempotency": "optional", "errors": (404, 409)},
    {"method": "POST", "rule": f"/emails/<{ID}:email_id>/cancel", "view": cancel_email,
     "scope": ApiScope.ADMIN, "query": MerchantArgsSchema, "response": s.EmailSchema,
     "idempotency": "optional", "errors": (404, 409)},
)  # fmt: skip
