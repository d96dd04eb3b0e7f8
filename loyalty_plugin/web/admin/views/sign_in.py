"""Signing in and out, choosing a merchant, setting a password, and my sessions."""

from __future__ import annotations

from flask import current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from loyalty_plugin.domain.errors import LoyaltyError, NotFound
from loyalty_plugin.extensions import get_session
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.staff import TooManyAttempts
from loyalty_plugin.services.staff.accounts import set_password as store_password
from loyalty_plugin.services.staff.accounts import staff_for_password_token
from loyalty_plugin.services.staff.links import AdminLinkExpired, AdminLinkUsed, open_admin_link
from loyalty_plugin.services.staff.passwords import check_password
from loyalty_plugin.services.staff.sessions import (
    live_sessions,
)
from loyalty_plugin.services.staff.sessions import sign_out as end_session
from loyalty_plugin.services.staff.sessions import (
    sign_out_everywhere as end_all_sessions,
)
from loyalty_plugin.services.staff.sign_in import sign_in_with_password
from loyalty_plugin.services.transaction import run_in_transaction
from loyalty_plugin.web.admin import access
from loyalty_plugin.web.admin.forms import field_errors

#: Messages of the sign-in page after a redirect (no session to keep them in yet).
NOTICES = {
    "signed_out": "You are signed out.",
    "everywhere": "You are signed out on every device.",
    "password": "Your password is set. Sign in with it.",
}


def sign_in_page() -> ResponseReturnValue:
    """The e-mail and password form (or, when already signed in, where to go next)."""
    if access.signed_in() is not None:
        return redirect(_next_url(), 303)
    return _sign_in_form({}, {}, notice=NOTICES.get(request.args.get("done", "")))


def sign_in() -> ResponseReturnValue:
    """Check the password; a new session (and cookie) on success."""
    email, password = request.form.get("email", ""), request.form.get("password", "")
    if not email.strip() or not password:
        errors = {"email": "Enter your e-mail address."} if not email.strip() else {}
        errors |= {} if password else {"password": "Enter your password."}
        return _sign_in_form({"email": email}, errors, status=422)
    now, previous = utcnow(), access.signed_in()
    try:
        outcome = run_in_transaction(
            get_session(),
            lambda s: sign_in_with_password(
                s,
                email=email,
                password=password,
                address=request.remote_addr or "unknown",
                user_agent=request.user_agent.string,
                policy=access.policy(),
                now=now,
            ),
        )
    except TooManyAttempts as error:
        return _sign_in_form({"email": email}, field_errors(error), status=429)
    if outcome.refusal is not None:
        return _sign_in_form({"email": email}, field_errors(outcome.refusal), status=422)
    if previous is not None:  # a new session id at every sign-in: the old one ends
        run_in_transaction(get_session(), lambda s: end_session(s, previous.session, now=now))
    response = redirect(_next_url(), 303)
    access.set_cookie(response, outcome.token, expires=outcome.session.expires_at)
    return response


def open_link(token: str) -> ResponseReturnValue:
    """An admin link from the host: a new session, then the merchant's first page.

    The redirect takes the token out of the address bar and the history.
    """
    now, previous = utcnow(), access.signed_in()
    try:
        opened = run_in_transaction(
            get_session(),
            lambda s: open_admin_link(
                s,
                secret=_secret(),
                token=token,
                address=request.remote_addr,
                user_agent=request.user_agent.string,
                policy=access.policy(),
                now=now,
            ),
        )
    except AdminLinkUsed:
        return access.error_page("link_used", 410)
    except AdminLinkExpired:
        return access.error_page("link_expired", 410)
    except LoyaltyError:
        return access.error_page("link_invalid", 404)
    if previous is not None:  # a new session id at every sign-in: the old one ends
        run_in_transaction(get_session(), lambda s: end_session(s, previous.session, now=now))
    response = redirect(url_for("admin.merchant_home", merchant_id=opened.merchant_id), 303)
    access.set_cookie(response, opened.token, expires=opened.session.expires_at)
    return response


def sign_out() -> ResponseReturnValue:
    """End this browser's session."""
    ctx = access.current()
    run_in_transaction(get_session(), lambda s: end_session(s, ctx.session, now=utcnow()))
    response = redirect(url_for("admin.sign_in_page", done="signed_out"), 303)
    access.clear_cookie(response)
    return response


def choose_merchant() -> ResponseReturnValue:
    """The merchants the staff member works for, with their role at each."""
    return render_template("admin/choose.html", page_title="Choose a merchant")


def my_sessions() -> ResponseReturnValue:
    """The browsers where I am signed in, and a button to sign out everywhere."""
    ctx = access.current()
    sessions = live_sessions(get_session(), ctx.staff_id, policy=access.policy(), now=utcnow())
    return render_template(
        "admin/sessions.html", page_title="My sessions", sessions=sessions, this=ctx.session.id
    )


def sign_out_everywhere() -> ResponseReturnValue:
    """End every session of mine, this one included."""
    ctx = access.current()
    run_in_transaction(get_session(), lambda s: end_all_sessions(s, ctx.staff_id, now=utcnow()))
    response = redirect(url_for("admin.sign_in_page", done="everywhere"), 303)
    access.clear_cookie(response)
    return response


def set_password_page(token: str) -> ResponseReturnValue:
    """The form to choose a password, opened from a one-time link."""
    try:
        staff = staff_for_password_token(get_session(), _secret(), token, now=utcnow())
    except NotFound:
        return access.error_page("password_link", 404)
    return render_template(
        "admin/set_password.html", page_title="Choose a password", staff=staff, errors={}
    )


def set_password(token: str) -> ResponseReturnValue:
    """Store the new password, end every session of the account, and go to sign in."""
    password = request.form.get("password", "")
    errors: dict[str, str] = {}
    if password != request.form.get("password_again", ""):
        errors["password_again"] = "The two passwords are not the same."  # noqa: S105
    try:
        check_password(password)
    except LoyaltyError as error:
        errors |= field_errors(error)
    session, now = get_session(), utcnow()
    try:
        staff = staff_for_password_token(session, _secret(), token, now=now)
    except NotFound:
        return access.error_page("password_link", 404)
    if errors:
        return render_template(
            "admin/set_password.html", page_title="Choose a password", staff=staff,
            errors=errors,
        ), 422  # fmt: skip

    def work(s: Session) -> None:
        store_password(s, staff, password=password)
        end_all_sessions(s, staff.id, now=now)

    run_in_transaction(session, work)
    return redirect(url_for("admin.sign_in_page", done="password"), 303)


# -- helpers -------------------------------------------------------------------------------


def _sign_in_form(
    values: dict[str, str], errors: dict[str, str], *, status: int = 200, notice: str | None = None
) -> ResponseReturnValue:
    return render_template(
        "admin/sign_in.html",
        page_title="Sign in",
        values=values,
        errors=errors,
        notice=notice,
        next=_safe_next(request.values.get("next")),
    ), status


def _next_url() -> str:
    return _safe_next(request.values.get("next")) or url_for("admin.choose_merchant")


def _safe_next(target: str | None) -> str | None:
    """``target`` if it is an admin page of this site (never another site)."""
    home = url_for("admin.choose_merchant")
    if not target or not target.startswith(home) or "//" in target or "\\" in target:
        return None
    return target


def _secret() -> str:
    return str(current_app.config["LOYALTY_SECRET_KEY"])
