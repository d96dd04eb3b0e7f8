"""The Coupons screen: find a coupon by its code or status, and cancel an unused one.

Everyone signed in may search; managers and owners cancel. Cancelling is one call of
:func:`~loyalty_plugin.services.spending.coupons.cancel_coupon`, the same the API's
``POST /coupons/{code}/cancel`` makes: the points the coupon cost go back to the customer.
"""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from loyalty_plugin.domain.coupons import CouponStatus
from loyalty_plugin.domain.errors import LoyaltyError, ValidationError
from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import StaffRole
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.spending import coupons
from loyalty_plugin.services.transaction import run_in_transaction
from loyalty_plugin.web.admin import access
from loyalty_plugin.web.admin.forms import field_errors

#: Coupons on one page of the list.
PER_PAGE = 25
#: The longest code search the box takes (the API's limit).
MAX_QUERY = 60


def coupons_list(merchant_id: str) -> ResponseReturnValue:
    """The merchant's coupons, newest first, by code and status, a page at a time."""
    return _page(merchant_id)


def coupon_cancel(merchant_id: str, code: str) -> ResponseReturnValue:
    """Cancel one unused coupon (one ``cancel_coupon``); its points go back."""
    form = request.form
    actor = access.current().actor
    try:
        coupon = run_in_transaction(
            get_session(),
            lambda s: coupons.cancel_coupon(
                s,
                merchant_id=merchant_id,
                code=code,
                now=utcnow(),
                actor=actor,
                reason=form.get("reason"),
                request_key=form.get("form_key") or None,
            ),
        )
    except LoyaltyError as error:
        status = 404 if _missing(error) else 409
        return _page(merchant_id, failed=code, errors=field_errors(error), status=status)
    back = f"{coupon.points} points went back to the customer." if coupon.points else ""
    access.flash(f"Coupon {coupon.code} is cancelled. {back}".strip())
    return redirect(url_for("admin.coupons_list", merchant_id=merchant_id, q=coupon.code), 303)


def _missing(error: LoyaltyError) -> bool:
    return error.code == "not_found"


def _page(
    merchant_id: str,
    *,
    failed: str | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    args = request.args
    filter_errors: dict[str, str] = {}
    try:
        chosen = _status(args.get("status"))
        page_number = _page_number(args.get("page"))
        campaign_id = _page_number(args.get("campaign")) if args.get("campaign") else None
        query = (args.get("q") or "").strip()
        if len(query) > MAX_QUERY:
            raise ValidationError(f"type at most {MAX_QUERY} characters", field="q")
    except ValidationError as error:
        filter_errors = field_errors(error)
        chosen, page_number, query, campaign_id = None, 1, "", None
        status = 422 if status == 200 else status
    page = coupons.search_coupons(
        get_session(),
        merchant_id=merchant_id,
        code=query or None,
        status=chosen,
        campaign_id=campaign_id,
        page=page_number,
        per_page=PER_PAGE,
    )
    return render_template(
        "admin/coupons/list.html",
        page_title="Coupons",
        page=page,
        args=args,
        query=query,
        filter_errors=filter_errors,
        statuses=[(s.value, s.value.capitalize()) for s in CouponStatus],
        failed=failed,
        errors=errors or {},
        now=utcnow(),
        state=coupon_row_state,
        may_cancel=access.current().may(StaffRole.MANAGER),
    ), status


def _status(text: str | None) -> CouponStatus | None:
    if not text:
        return None
    try:
        return CouponStatus(text)
    except ValueError:
        known = ", ".join(s.value for s in CouponStatus)
        raise ValidationError(f"choose one of {known}", field="status") from None


def _page_number(text: str | None) -> int:
    if text is None or text == "":
        return 1
    if not text.isascii() or not text.isdigit() or len(text) > 6:
        raise ValidationError("must be a page number", field="page")
    return int(text)


def coupon_row_state(coupon: Any, now: Any) -> str:
    """What the list says of a coupon: its status, or "expired" for one past its date."""
    if coupon.status == CouponStatus.ACTIVE and coupon.expires_at and coupon.expires_at <= now:
        return "expired"
    return str(coupon.status)
