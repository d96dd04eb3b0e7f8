"""The expired-link page's "e-mail me a new link" form, and what it answers.

The page of an expired link (in the address, or in the portal cookie) offers the form when
the merchant sends the ``portal_link`` e-mail. The form carries the expired link (it grants
nothing) and a CSRF value: a random nonce, signed with the link and a time (itsdangerous),
and also set in a cookie (``SameSite=Strict``; in a portal the host frames, the portal
cookie's ``None; Secure; Partitioned``). A post from another site, from another link's page
or older than :data:`FORM_MAX_AGE` is refused. The answer is the same whether or not the
typed address is the one on file (:func:`request_portal_link` decides, and sends).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass

from flask import Response, current_app, g, render_template, request
from flask.typing import ResponseReturnValue
from itsdangerous import BadSignature, URLSafeTimedSerializer

from loyalty_plugin.email.links import portal_valid_for
from loyalty_plugin.extensions import get_session
from loyalty_plugin.i18n import N_
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.customers.portal import shop_of_token
from loyalty_plugin.services.messaging import portal_links
from loyalty_plugin.services.transaction import run_in_transaction
from loyalty_plugin.web.i18n import template_context
from loyalty_plugin.web.portal import portal_access

log = logging.getLogger(__name__)

COOKIE = "loyalty_portal_ask"
_SALT = "loyalty-portal-new-link"
#: Seconds a rendered form may be sent.
FORM_MAX_AGE = 3600
#: Longest address read from the form (RFC 5321's limit).
MAX_ADDRESS = 254


@dataclass(frozen=True, kw_only=True)
class AskForm:
    """The form's hidden values, what was typed, and the message beside the field."""

    link: str
    csrf: str
    email: str = ""
    error: str | None = None


def expired_page(token: str | None, *, status: int, shop: str | None) -> Response:
    """The "this link has expired" page, with the form when the merchant sends new links."""
    try:
        form, nonce = _new_form(token)
    except Exception:  # a form on an error page is never worth a second error
        log.warning("portal: no new-link form on the expired page", exc_info=True)
        form, nonce = None, None
    return _page("expired", status, shop=shop, form=form, nonce=nonce)


def ask_new_link() -> ResponseReturnValue:
    """``POST /portal/new-link``: check the form, ask for a link, answer the same either way."""
    link, typed = request.form.get("link", ""), request.form.get("email", "").strip()
    owner = portal_links.expired_link_owner(portal_access.secret(), link)
    shop = _shop_name(link)
    if owner is None:
        return _page("invalid", 404, shop=shop)
    if not _csrf_ok(link, request.form.get("csrf", "")):
        form, nonce = _new_form(link, email=typed, error=STALE)
        return _page("expired", 400, shop=shop, form=form, nonce=nonce)
    if not _looks_like_an_address(typed):
        form = AskForm(link=link, csrf=request.form["csrf"], email=typed, error=NOT_AN_ADDRESS)
        return _page("expired", 422, shop=shop, form=form)
    try:
        run_in_transaction(
            get_session(),
            lambda s: portal_links.request_portal_link(
                s,
                merchant_id=owner.merchant_id,
                customer_id=owner.customer_id,
                typed_email=typed,
                client=request.remote_addr or "unknown",
                valid_days=portal_valid_for(current_app.config).days,
                now=utcnow(),
            ),
        )
    except portal_links.RequestsThrottled as error:
        return _page("new_link_wait", 429, shop=shop, minutes=error.minutes)
    return _page("new_link_sent", 200, shop=shop, address=typed)


STALE = N_("This form was too old or not from this page. Please send it again.")
NOT_AN_ADDRESS = N_("Enter the e-mail address you gave us, such as name@example.com.")


# -- helpers -------------------------------------------------------------------------------


def _new_form(
    token: str | None, *, email: str = "", error: str | None = None
) -> tuple[AskForm | None, str | None]:
    """A fresh form and its cookie nonce, or ``(None, None)`` when no form is offered."""
    owner = portal_links.expired_link_owner(portal_access.secret(), token) if token else None
    if owner is None or token is None:
        return None, None
    if not portal_links.link_requests_open(get_session(), merchant_id=owner.merchant_id):
        return None, None
    nonce = secrets.token_urlsafe(18)
    csrf = _signer().dumps([_fingerprint(token), nonce])
    return AskForm(link=token, csrf=csrf, email=email, error=error), nonce


def _csrf_ok(link: str, csrf: str) -> bool:
    try:
        fingerprint, nonce = _signer().loads(csrf, max_age=FORM_MAX_AGE)
    except (BadSignature, ValueError, TypeError):
        return False
    cookie = request.cookies.get(COOKIE, "")
    return (
        isinstance(nonce, str)
        and bool(cookie)
        and hmac.compare_digest(nonce, cookie)
        and fingerprint == _fingerprint(link)
    )


def _looks_like_an_address(text: str) -> bool:
    local, at, domain = text.rpartition("@")
    return bool(at and local and "." in domain) and len(text) <= MAX_ADDRESS and " " not in text


def _page(state: str, status: int, *, nonce: str | None = None, **context: object) -> Response:
    if "portal_language" not in g:
        g.portal_language = portal_access.language_of_token()
    page = render_template(
        "portal/message.html", state=state, status=status, **template_context(), **context
    )
    response = Response(page, status)
    if nonce is not None:
        options = portal_access.cookie_options()
        if options["samesite"] == "Lax":  # not framed by the host: never sent cross-site
            options["samesite"] = "Strict"
        response.set_cookie(COOKIE, nonce, max_age=FORM_MAX_AGE, **options)
    return response


def _shop_name(token: str) -> str | None:
    merchant = shop_of_token(get_session(), portal_access.secret(), token) if token else None
    return merchant.name if merchant else None


def _fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:32]


def _signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(portal_access.secret(), salt=_SALT)
