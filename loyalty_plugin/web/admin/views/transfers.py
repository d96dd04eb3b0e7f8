"""Merge and transfer: merging two customer records, and moving points between customers.

Both change points, so both confirm first: the merge page shows what would move
(``plan_merge``) before the merge is posted, and the transfer form is checked and shown
with the lots it would give (``plan_transfer``) before it is confirmed. The confirmed
forms carry a one-time key: a transfer's key is its ledger idempotency key, and a merge is
idempotent by itself, so a double submit changes things once. Managers and owners only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import abort, current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from loyalty_plugin.domain.errors import LoyaltyError, NotFound, ValidationError
from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import Customer
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.customers import merge, search, transfers
from loyalty_plugin.services.transaction import run_in_transaction
from loyalty_plugin.web.admin import access
from loyalty_plugin.web.admin.forms import field_errors

# -- merge ----------------------------------------------------------------------------------


def customer_merge(merchant_id: str, customer_id: int) -> ResponseReturnValue:
    """Pick the other record (a search), see what would move, then confirm."""
    session = get_session()
    this = _record(merchant_id, customer_id)
    query = request.args.get("q", "").strip()
    context: dict[str, Any] = {"this": this, "q": query, "results": None, "plan": None}
    try:
        if query:
            context["results"] = search.search_customers(
                session, merchant_id=merchant_id, query=query, page=1
            )
        if other := _other_id(request.args):
            context["plan"] = _plan(merchant_id, this, other, request.args.get("keep", "this"))
    except LoyaltyError as error:
        return _merge_page(context | {"errors": field_errors(error)}, status=422)
    return _merge_page(context)


def customer_merge_confirm(merchant_id: str, customer_id: int) -> ResponseReturnValue:
    """Merge, in one transaction; then to the survivor's page with what moved."""
    form = request.form
    this = _record(merchant_id, customer_id)
    context: dict[str, Any] = {"this": this, "q": "", "results": None, "plan": None}
    try:
        other = _other_id(form)
        if other is None:
            raise ValidationError("choose the other customer first", field="other")
        merged, survivor = _pair(merchant_id, this, other, form.get("keep", "this"))
        merged_host, survivor_host = merged.host_customer_id, survivor.host_customer_id
        result = run_in_transaction(
            get_session(),
            lambda s: merge.merge_customers(
                s,
                merchant_id=merchant_id,
                customer_id=merged_host,
                into_customer_id=survivor_host,
                reason=form.get("reason", ""),
                now=utcnow(),
                actor=access.current().actor,
            ),
        )
    except LoyaltyError as error:
        return _merge_page(context | {"errors": field_errors(error), "values": form}, status=422)
    access.flash(_merged_message(result))
    return redirect(_customer_url(merchant_id, result.survivor.id), 303)


def _pair(merchant_id: str, this: Customer, other_id: int, keep: str) -> tuple[Customer, Customer]:
    """The record merged and the one kept (``keep``: ``this`` or ``other``)."""
    other = merge.record(get_session(), merchant_id=merchant_id, customer_id=other_id)
    return (other, this) if keep != "other" else (this, other)


def _plan(merchant_id: str, this: Customer, other_id: int, keep: str) -> merge.MergePlan:
    """What merging the two would move; ``keep`` says which is the survivor."""
    merged, survivor = _pair(merchant_id, this, other_id, keep)
    return merge.plan_merge(
        get_session(),
        merchant_id=merchant_id,
        customer_id=merged.host_customer_id,
        into_customer_id=survivor.host_customer_id,
        now=utcnow(),
    )


def _merged_message(result: merge.Merge) -> str:
    if result.replayed:
        return f"{_name(result.merged)} was already merged into {_name(result.survivor)}."
    return (
        f"{_name(result.merged)} was merged into {_name(result.survivor)}: "
        f"{result.points} points in {result.lots} lots moved."
    )


def _merge_page(context: dict[str, Any], *, status: int = 200) -> ResponseReturnValue:
    context.setdefault("errors", {})
    context.setdefault("values", {})
    return render_template(
        "admin/transfers/merge.html",
        page_title="Merge customers",
        customer_url=lambda c: _customer_url(c.merchant_id, c.id),
        name=_name,
        **context,
    ), status


# -- transfer -------------------------------------------------------------------------------


def transfer_new(merchant_id: str) -> ResponseReturnValue:
    """The transfer form; ``?customer_id=`` (a record's id) fills in who gives."""
    values: dict[str, str] = {}
    if given := request.args.get("customer_id", type=int):
        try:
            sender = merge.record(get_session(), merchant_id=merchant_id, customer_id=given)
        except NotFound:
            abort(404)
        values["from_customer_id"] = sender.host_customer_id
    return _transfer_page(values=values)


def transfer_create(merchant_id: str) -> ResponseReturnValue:
    """``step=check``: show what would move; ``step=confirm``: move it (once per form key)."""
    form = request.form
    try:
        points = _points(form.get("points"))
        plan = transfers.plan_transfer(
            get_session(),
            merchant_id=merchant_id,
            from_customer_id=form.get("from_customer_id", "").strip(),
            to_customer_id=form.get("to_customer_id", "").strip(),
            points=points,
            reason=form.get("reason", ""),
            now=utcnow(),
        )
        if form.get("step") != "confirm":
            return _transfer_page(values=form, plan=plan)
        result = run_in_transaction(
            get_session(),
            lambda s: transfers.transfer_points(
                s,
                merchant_id=merchant_id,
                from_customer_id=plan.sender.host_customer_id,
                to_customer_id=plan.receiver.host_customer_id,
                points=points,
                reason=plan.reason,
                now=utcnow(),
                actor=access.current().actor,
                idempotency_key=_form_key(form),
            ),
        )
    except LoyaltyError as error:
        return _transfer_page(values=form, errors=field_errors(error), status=422)
    access.flash(
        f"{-result.sent.points} points moved from {_name(plan.sender)} to {_name(plan.receiver)}"
        f", keeping their expiry ({len(result.received)} lots)."
    )
    return redirect(_customer_url(merchant_id, plan.sender.id), 303)


def _transfer_page(
    *,
    values: Mapping[str, str],
    plan: transfers.TransferPlan | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    return render_template(
        "admin/transfers/new.html",
        page_title="Transfer points",
        values=values,
        plan=plan,
        errors=errors or {},
        name=_name,
    ), status


def _points(text: str | None) -> int:
    """A whole, positive number of points from the form."""
    try:
        points = int((text or "").replace(" ", "").replace(",", ""))
    except ValueError:
        raise ValidationError("enter the points as a whole number", field="points") from None
    if points <= 0:
        raise ValidationError("enter a number of points above 0", field="points")
    return points


def _form_key(form: Mapping[str, str]) -> str:
    key = form.get("form_key", "").strip()
    if not key:
        raise ValidationError("the form has expired; check the transfer again", field="form")
    return f"admin-transfer:{key}"[:255]


# -- shared ---------------------------------------------------------------------------------


def _record(merchant_id: str, customer_id: int) -> Customer:
    try:
        return merge.record(get_session(), merchant_id=merchant_id, customer_id=customer_id)
    except NotFound:
        abort(404)


def _other_id(values: Mapping[str, str]) -> int | None:
    text = (values.get("other") or "").strip()
    if not text:
        return None
    if not text.isdigit():
        raise ValidationError("choose the other customer from the list", field="other")
    return int(text)


def _name(customer: Customer) -> str:
    """How a customer is named on these pages: name and host id."""
    name = customer.display_name or "(no name yet)"
    return f"{name} ({customer.host_customer_id})"


def _customer_url(merchant_id: str, customer_id: int) -> str:
    """The customer's page when the desk has one; else the merge page of that record."""
    endpoint = "admin.customers_show"
    if endpoint not in current_app.view_functions:
        endpoint = "admin.customer_merge"
    return url_for(endpoint, merchant_id=merchant_id, customer_id=customer_id)
