"""Approvals: adjustments over the limit (or asked by staff) waiting for a second person."""

from __future__ import annotations

from flask import abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from loyalty_plugin.domain.errors import LoyaltyError, NotFound
from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import StaffRole
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.customers import actions, desk
from loyalty_plugin.services.transaction import run_in_transaction
from loyalty_plugin.web.admin import access
from loyalty_plugin.web.admin.forms import field_errors


def approvals(merchant_id: str) -> ResponseReturnValue:
    """The adjustments waiting for approval, oldest first."""
    return _render(merchant_id)


def approvals_approve(merchant_id: str, adjustment_id: int) -> ResponseReturnValue:
    """Approve another staff member's adjustment: the points move now."""
    return _decide(merchant_id, adjustment_id, approve=True)


def approvals_reject(merchant_id: str, adjustment_id: int) -> ResponseReturnValue:
    """Reject another staff member's adjustment: nothing moves."""
    return _decide(merchant_id, adjustment_id, approve=False)


def _decide(merchant_id: str, adjustment_id: int, *, approve: bool) -> ResponseReturnValue:
    form, ctx = request.form, access.current()
    try:
        expires_at = actions.read_day_end(
            form.get("expires_on"),
            timezone=desk.merchant_timezone(get_session(), merchant_id),
            field="expires_on",
            required=False,
        )
        adjustment = run_in_transaction(
            get_session(),
            lambda s: actions.decide(
                s,
                merchant_id=merchant_id,
                adjustment_id=adjustment_id,
                approve=approve,
                actor=ctx.actor,
                role=ctx.role,
                note=form.get("note"),
                now=utcnow(),
                expires_at=expires_at,
            ),
        )
    except NotFound:
        abort(404)
    except LoyaltyError as error:
        errors = {"expires_at": "expires_on", "staff": "form"}
        shown = {errors.get(k, k): v for k, v in field_errors(error).items()}
        return _render(merchant_id, failed=adjustment_id, errors=shown, status=422)
    verb = "approved: the points moved" if approve else "rejected: nothing moved"
    access.flash(f"Adjustment of {adjustment.points:+,} points {verb}.")
    return redirect(url_for("admin.approvals", merchant_id=merchant_id), 303)


def _render(
    merchant_id: str,
    *,
    failed: int | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    page = request.args.get("page", "1")
    approvals = actions.pending_approvals(
        get_session(),
        merchant_id=merchant_id,
        page=int(page) if page.isdigit() and 0 < len(page) < 6 and int(page) > 0 else 1,
    )
    return render_template(
        "admin/approvals/list.html",
        approvals=approvals,
        failed=failed,
        errors=errors or {},
        values=request.form if failed else {},
        manager=StaffRole.MANAGER,
    ), status
