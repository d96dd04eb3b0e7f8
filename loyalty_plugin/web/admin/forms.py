"""Form helpers: the CSRF check, one-time form keys, and errors per field.

A signed-in form posts ``csrf``: the stored session's own random secret, so a token of
another session (or of no session) is refused. Public forms (sign in, set a password)
have no session yet: their ``csrf`` is an HMAC, under the plugin's secret key, of a random
value kept in a short cookie of their own, so another site cannot post them either.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping

from flask import current_app, g, request

from loyalty_plugin.domain.errors import LoyaltyError

#: The cookie of the public forms' CSRF value.
FORM_COOKIE = "loyalty_admin_form"


class FormRejected(Exception):
    """A post without the CSRF value of this browser's session: nothing was changed."""


def check_csrf(form: Mapping[str, str], session_secret: str | None) -> None:
    """:class:`FormRejected` unless ``form["csrf"]`` is this browser's value."""
    given = form.get("csrf", "")
    expected = session_secret or _public_token(request.cookies.get(FORM_COOKIE, ""))
    if not given or not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise FormRejected


def csrf_token() -> str:
    """The value for the ``csrf`` field of a form on this page."""
    admin = g.get("admin")
    if admin is not None:
        return str(admin.csrf)
    value = request.cookies.get(FORM_COOKIE) or g.get("admin_form_cookie")
    if not value:
        value = g.admin_form_cookie = secrets.token_urlsafe(24)
    return _public_token(value)


def new_form_key() -> str:
    """A fresh one-time key: posted back, it is the idempotency key of the change."""
    return secrets.token_urlsafe(18)


def field_errors(error: LoyaltyError, *, default: str = "form") -> dict[str, str]:
    """``{field: message}`` from a service's error, the message as a sentence."""
    return {error.field or default: sentence(error.message)}


def sentence(text: str) -> str:
    """``text`` with a capital first letter and a full stop."""
    text = text.strip()
    return text[:1].upper() + text[1:].rstrip(".") + "."


def _public_token(value: str) -> str:
    if not value:
        return ""
    key = str(current_app.config["LOYALTY_SECRET_KEY"]).encode()
    return hmac.new(key, b"loyalty-admin-form:" + value.encode(), hashlib.sha256).hexdigest()
