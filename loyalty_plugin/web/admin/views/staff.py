"""The Staff page (owners): who works for the merchant, with which role; add, change, remove."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from loyalty_plugin.domain.errors import InvalidOperation, LoyaltyError
from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import StaffMember
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.staff import accounts
from loyalty_plugin.services.staff.sessions import sign_out_member
from loyalty_plugin.services.transaction import run_in_transaction
from loyalty_plugin.web.admin import access
from loyalty_plugin.web.admin.forms import field_errors, sentence


def staff_list(merchant_id: str) -> ResponseReturnValue:
    """The merchant's staff and the form to add one."""
    return _page(merchant_id)


def staff_add(merchant_id: str) -> ResponseReturnValue:
    """Add a staff member with a role; a new account gets a one-time set-password link."""
    form = request.form
    try:
        staff, created = run_in_transaction(
            get_session(),
            lambda s: accounts.add_staff(
                s,
                merchant_id=merchant_id,
                email=form.get("email", ""),
                name=form.get("name", ""),
                role=accounts.parse_role(form.get("role", "")),
                actor=access.current().actor,
                now=utcnow(),
            ),
        )
    except LoyaltyError as error:
        return _page(merchant_id, values=form, errors=field_errors(error), status=422)
    if not created:
        access.flash(f"{staff.name} ({staff.email}) now also works here.")
        return redirect(url_for("admin.staff_list", merchant_id=merchant_id), 303)
    return _page(merchant_id, link=_password_link(staff), added=staff)


def staff_role(merchant_id: str, staff_id: int) -> ResponseReturnValue:
    """Give a staff member another role (a merchant keeps at least one owner)."""
    try:
        membership = run_in_transaction(
            get_session(),
            lambda s: accounts.change_role(
                s,
                merchant_id=merchant_id,
                staff_id=staff_id,
                role=accounts.parse_role(request.form.get("role", "")),
                actor=access.current().actor,
                now=utcnow(),
            ),
        )
    except LoyaltyError as error:
        return _page(merchant_id, errors=field_errors(error), status=422)
    access.flash(f"{membership.staff.name} is now {membership.role.value}.")
    return redirect(url_for("admin.staff_list", merchant_id=merchant_id), 303)


def staff_remove(merchant_id: str, staff_id: int) -> ResponseReturnValue:
    """Take a staff member off this merchant."""
    try:
        staff = run_in_transaction(
            get_session(),
            lambda s: accounts.remove_from_merchant(
                s,
                merchant_id=merchant_id,
                staff_id=staff_id,
                actor=access.current().actor,
                now=utcnow(),
            ),
        )
    except LoyaltyError as error:
        return _page(merchant_id, errors=field_errors(error), status=422)
    access.flash(f"{staff.name} no longer works here.")
    return redirect(url_for("admin.staff_list", merchant_id=merchant_id), 303)


def staff_sign_out(merchant_id: str, staff_id: int) -> ResponseReturnValue:
    """End every session of a staff member (a lost phone, someone leaving)."""

    try:
        staff, count = run_in_transaction(
            get_session(),
            lambda s: sign_out_member(
                s,
                merchant_id=merchant_id,
                staff_id=staff_id,
                actor=access.current().actor,
                now=utcnow(),
            ),
        )
    except LoyaltyError as error:
        return _page(merchant_id, errors=field_errors(error), status=422)
    sessions = "session" if count == 1 else "sessions"
    access.flash(f"{staff.name} is signed out everywhere ({count} {sessions} ended).")
    return redirect(url_for("admin.staff_list", merchant_id=merchant_id), 303)


def staff_password_link(merchant_id: str, staff_id: int) -> ResponseReturnValue:
    """A new one-time set-password link, for a staff member who works only here."""
    session = get_session()
    try:
        staff = accounts.member(session, merchant_id, staff_id).staff
        if [m.merchant_id for m in staff.memberships] != [merchant_id]:
            raise InvalidOperation(
                f"{staff.name} also works for another merchant: they reset their own "
                "password (or ask the `loyalty staff` command)",
                field="staff",
            )
    except LoyaltyError as error:
        return _page(merchant_id, errors=field_errors(error), status=422)
    return _page(merchant_id, link=_password_link(staff), added=staff)


def _password_link(staff: StaffMember) -> dict[str, Any]:
    hours = access.policy().password_link_hours
    token, expires_at = accounts.password_token(
        str(current_app.config["LOYALTY_SECRET_KEY"]),
        staff,
        now=utcnow(),
        valid=timedelta(hours=hours),
    )
    return {"url": access.external_url("admin.set_password_page", token=token),
            "expires_at": expires_at}  # fmt: skip


def _page(
    merchant_id: str,
    *,
    values: Any = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
    link: dict[str, Any] | None = None,
    added: StaffMember | None = None,
) -> ResponseReturnValue:
    errors = errors or {}
    return render_template(
        "admin/staff/list.html",
        page_title="Staff",
        staff=accounts.list_staff(get_session(), merchant_id),
        values=values or {},
        errors=errors,
        form_error=sentence(errors["form"]) if "form" in errors else None,
        link=link,
        added=added,
        roles=list(reversed(accounts.ROLES)),
    ), status
