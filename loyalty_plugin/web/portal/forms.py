"""The portal's one form: turning points into a coupon, with its CSRF and one-time key.

Each rendering of the form gets a random ``form_key`` and a ``csrf`` value signing that key
together with the merchant and customer (itsdangerous, the app's secret, a salt of its
own). A post is accepted only with a pair signed for the signed-in customer, so another
site cannot post for them. The key is also the idempotency key of the conversion: posting
the same form twice (a double click, a reload) issues one coupon.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeSerializer

from loyalty_plugin.services.customers.portal import PortalAccess

_SALT = "loyalty-portal-form"
#: Longest points value read from the form (beyond any balance anyway).
MAX_DIGITS = 15


class FormRejected(Exception):
    """The post did not come from a form we rendered for this customer."""


@dataclass(frozen=True, kw_only=True)
class ConvertForm:
    """The form's hidden values, what was typed, and the message to show next to it."""

    form_key: str
    csrf: str
    points: str = ""
    error: str | None = None


def new_form(secret: str, access: PortalAccess) -> ConvertForm:
    """A fresh, empty form for the signed-in customer."""
    form_key = secrets.token_urlsafe(18)
    return ConvertForm(form_key=form_key, csrf=_sign(secret, access, form_key))


def read_form(secret: str, access: PortalAccess, data: Mapping[str, str]) -> ConvertForm:
    """The posted form, checked (:class:`FormRejected` if forged or for someone else)."""
    form_key, csrf = data.get("form_key", ""), data.get("csrf", "")
    try:
        signed = URLSafeSerializer(secret, salt=_SALT).loads(csrf)
    except BadSignature:
        raise FormRejected from None
    if signed != [access.merchant_id, access.customer_id, form_key] or not form_key:
        raise FormRejected
    return ConvertForm(form_key=form_key, csrf=csrf, points=data.get("points", "").strip())


def parse_points(form: ConvertForm) -> int | None:
    """The points typed, as a whole number (``None`` if it is not one)."""
    text = "".join(form.points.split())
    if not text.isascii() or not text.isdigit() or len(text) > MAX_DIGITS:
        return None
    return int(text)


def _sign(secret: str, access: PortalAccess, form_key: str) -> str:
    return URLSafeSerializer(secret, salt=_SALT).dumps(
        [access.merchant_id, access.customer_id, form_key]
    )
