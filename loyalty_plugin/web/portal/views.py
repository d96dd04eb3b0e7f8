"""The portal's views: read the signed-in customer, call one service, render a page.

The signed-in customer comes from the portal cookie, which holds the link's own token: the
portal works as long as the link would. Every page is private (``no-store``), may not be
framed, and loads nothing from another origin.
"""

from __future__ import annotations

import logging
import re
from types import SimpleNamespace
from typing import Any

from flask import Response, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from loyalty_plugin.database import is_unavailable
from loyalty_plugin.domain.errors import IdempotencyConflict, InsufficientPoints, LoyaltyError
from loyalty_plugin.email.render import environment
from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import Customer
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.customers import portal, portal_credit
from loyalty_plugin.services.customers.statements import account_of, standing
from loyalty_plugin.services.ledger.accounts import get_merchant
from loyalty_plugin.services.messaging.email_templates import formatting
from loyalty_plugin.services.transaction import run_in_transaction
from loyalty_plugin.web.errors import RETRY_AFTER_SECONDS
from loyalty_plugin.web.i18n import gettext, ngettext, template_context
from loyalty_plugin.web.portal import new_link, portal_access
from loyalty_plugin.web.portal.filters import KINDS, read_filters
from loyalty_plugin.web.portal.forms import ConvertForm, new_form, parse_points, read_form

log = logging.getLogger(__name__)

COOKIE = portal_access.COOKIE
#: Endpoints open without the portal cookie.
PUBLIC = {"portal.open_link", "portal.static", "portal.with_slash", "portal.ask_new_link"}
CSP = (
    "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; form-action 'self'; frame-ancestors {frames}; base-uri 'none'"
)
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


class SignedOut(Exception):
    """A page was asked for without a valid portal cookie."""

    def __init__(self, *, expired: bool = False) -> None:
        super().__init__("signed out")
        self.expired = expired


# -- pages ---------------------------------------------------------------------------------


def open_link(token: str) -> ResponseReturnValue:
    """The link from an e-mail or the host: remember it in a cookie, then show the overview."""
    access = portal.read_token(portal_access.secret(), token, now=utcnow())
    portal.open_portal(get_session(), access)
    g.portal_frames = portal.frame_ancestors(get_session(), access.merchant_id)
    response = redirect(url_for("portal.overview"), 303)
    response.set_cookie(COOKIE, token, expires=access.expires_at, **portal_access.cookie_options())
    return response


def overview() -> ResponseReturnValue:
    """Balance, expiring points, level and progress, latest activity."""
    session, now = get_session(), utcnow()
    data = portal.overview(session, g.portal_customer, now=now)
    return render_page(
        "portal/overview.html",
        balance=data.standing.balance,
        data=data,
        credit=portal_credit.credit_wallets(session, g.portal_customer, now=now),
        page_title=gettext("My points"),
    )


def credit() -> ResponseReturnValue:
    """Store credit per currency: balance, totals, what expires soon, latest entries."""
    session, customer = get_session(), g.portal_customer
    account = account_of(session, customer)
    return render_page(
        "portal/credit.html",
        balance=0 if account is None else account.balance,
        wallets=portal_credit.credit_wallets(
            session, customer, now=utcnow(), lines=portal_credit.CREDIT_SHOWN
        ),
        page_title=gettext("Store credit"),
    )


def points() -> ResponseReturnValue:
    """The points log, newest first, one page at a time, filtered as the address says."""
    session, customer = get_session(), g.portal_customer
    account = account_of(session, customer)
    page = request.args.get("page", default=1, type=int) or 1
    merchant = get_merchant(session, customer.merchant_id)
    chosen = read_filters(request.args, timezone=merchant.timezone)
    log_page = (
        portal.points_log(
            session,
            account,
            page=page,
            kinds=chosen.kinds,
            since=chosen.since,
            before=chosen.before,
        )
        if account is not None and not chosen.errors
        else portal.LogPage(lines=[], page=1, pages=1, total=0)
    )
    return render_page(
        "portal/points.html",
        status=400 if chosen.errors else 200,
        balance=0 if account is None else account.balance,
        account=account,
        log=log_page,
        filters=chosen,
        kinds=KINDS,
        page_title=gettext("Points history"),
    )


def coupons() -> ResponseReturnValue:
    """The customer's coupons and, where allowed, the form to get one with points."""
    return _coupons_page(new_form(portal_access.secret(), g.portal_access))


def convert() -> ResponseReturnValue:
    """Turn points into a coupon; on a problem show the form again with the reason."""
    form = read_form(portal_access.secret(), g.portal_access, request.form)
    points = parse_points(form)
    if points is None:
        return _coupons_page(with_error(form, gettext("Enter the points as a whole number.")), 422)
    customer = g.portal_customer
    try:
        coupon = run_in_transaction(
            get_session(),
            lambda s: portal.convert(
                s, customer, points=points, form_key=form.form_key, now=utcnow()
            ),
        )
    except LoyaltyError as error:
        message = message_for(error, customer_formats(customer))
        if isinstance(error, IdempotencyConflict):
            # The used key cannot be sent again.
            form = new_form(portal_access.secret(), g.portal_access)
        return _coupons_page(with_error(form, message), 422)
    return redirect(url_for("portal.coupons", created=coupon.code), 303)


def with_slash() -> ResponseReturnValue:
    """``/portal/`` is the overview too (it used to fall through to the API's JSON 404)."""
    return redirect(url_for("portal.overview"), 301)


def sign_out() -> ResponseReturnValue:
    """Forget the portal cookie on this device."""
    page = render_template(
        "portal/message.html", state="signed_out_done", shop=_shop(True), **template_context()
    )
    response = Response(page)
    response.delete_cookie(COOKIE, **portal_access.cookie_options())
    return response


# -- request hooks -------------------------------------------------------------------------


def load_customer() -> None:
    """Put the signed-in customer on ``g`` (:class:`SignedOut` without a valid cookie)."""
    if request.endpoint in PUBLIC or request.endpoint is None:
        return
    token = request.cookies.get(COOKIE)
    if not token:
        raise SignedOut
    try:
        access = portal.read_token(portal_access.secret(), token, now=utcnow())
        g.portal_customer = portal.open_portal(get_session(), access)
    except portal.PortalLinkExpired:
        raise SignedOut(expired=True) from None
    except portal.PortalLinkInvalid:
        raise SignedOut from None
    g.portal_access = access
    g.portal_language = portal.language(get_session(), g.portal_customer)[0]


def secure_headers(response: Response) -> Response:
    """No caching, no framing but by the merchant's host, nothing from elsewhere, no token
    leaking in a Referer."""
    for name, value in HEADERS.items():
        if request.endpoint == "portal.static" and name == "Cache-Control":
            continue
        response.headers.setdefault(name, value)
    frames = portal_access.frame_origins()
    response.headers.setdefault("Content-Security-Policy", CSP.format(frames=" ".join(frames)))
    if frames == ["'none'"]:
        # Older browsers know only this header, which cannot name an origin.
        response.headers.setdefault("X-Frame-Options", "DENY")
    return response


# -- error pages ---------------------------------------------------------------------------


def link_invalid(_error: Exception) -> ResponseReturnValue:
    return _message_page("invalid", 404)


def link_expired(_error: Exception) -> ResponseReturnValue:
    return new_link.expired_page(portal_access.token(), status=410, shop=_shop(True))


def signed_out(error: SignedOut) -> ResponseReturnValue:
    if error.expired:
        return new_link.expired_page(portal_access.token(), status=403, shop=_shop(True))
    return _message_page("signed_out", 403)


def form_rejected(_error: Exception) -> ResponseReturnValue:
    return _message_page("form", 400)


def http_error(error: HTTPException) -> ResponseReturnValue:
    return _message_page("http", error.code or 500, error=error)


def routing_error(error: HTTPException) -> Response:
    """A 404 or 405 under ``/portal`` that matched no view: the portal's page, not JSON."""
    page, status = _message_page("http", error.code or 500, error=error)  # type: ignore[misc]
    return secure_headers(Response(page, status))


def database_error(error: Exception) -> ResponseReturnValue:
    """The database cannot be reached: a "try again shortly" page, 503 with Retry-After."""
    if not is_unavailable(error):
        return unexpected(error)
    log.warning("portal: database unavailable on %s %s", request.method, request.path)
    g.portal_database_down = True
    page, status = _message_page("unavailable", 503)
    return page, status, {"Retry-After": str(RETRY_AFTER_SECONDS)}


def unexpected(error: Exception) -> ResponseReturnValue:
    if isinstance(error, HTTPException):
        return http_error(error)
    log.exception("portal error on %s %s", request.method, request.path)
    g.portal_database_down = True  # whatever failed, the headers ask nothing more of it
    return _message_page("error", 500)


# -- helpers -------------------------------------------------------------------------------


def _coupons_page(form: ConvertForm, status: int = 200) -> ResponseReturnValue:
    session, customer, now = get_session(), g.portal_customer, utcnow()
    groups = portal.customer_coupons(session, customer, now=now)
    position = standing(session, customer, now=now)
    offer = portal.coupon_offer(session, customer, available=position.available)
    level = portal.level_view(session, customer.merchant_id, position.level, now=now)
    created = request.args.get("created")
    return render_page(
        "portal/coupons.html",
        status=status,
        balance=position.balance,
        groups=groups,
        offer=offer,
        # Its point value is for paying at checkout; the page says so beside the coupon rate.
        level=level.current if level else None,
        form=form,
        created=next((c for c in groups.active if c.code == created), None),
        page_title=gettext("My coupons"),
    )


def render_page(
    template: str, *, balance: int, status: int = 200, **context: Any
) -> ResponseReturnValue:
    """A page with the merchant's formatting, the customer and their ``balance`` in the header.

    The caller passes the balance it already read, so no page reads the standing twice.
    """
    session, customer = get_session(), g.portal_customer
    formats = customer_formats(customer)
    return (
        render_template(
            template,
            f=formats,
            lang=formats.lang,
            merchant=get_merchant(session, customer.merchant_id),
            customer=customer,
            balance=balance,
            has_credit=portal_credit.has_credit(session, customer),
            **template_context(),
            **context,
        ),
        status,
    )


def _message_page(state: str, status: int, **context: Any) -> ResponseReturnValue:
    may_ask_database = state not in ("unavailable", "error")
    shop = _shop(may_ask_database)
    if may_ask_database and "portal_language" not in g:
        g.portal_language = portal_access.language_of_token()
    page = render_template(
        "portal/message.html",
        state=state,
        status=status,
        shop=shop,
        **template_context(),
        **context,
    )
    return page, status


def _shop(may_ask_database: bool) -> str | None:
    """The shop's name for an error page: from the signed-in customer, else the link's token.

    Not asked of a database that just failed; any trouble reading it leaves the name out.
    """
    if not may_ask_database:
        return None
    token = portal_access.token()
    try:
        if "portal_customer" in g:
            return get_merchant(get_session(), g.portal_customer.merchant_id).name
        secret = portal_access.secret()
        merchant = portal.shop_of_token(get_session(), secret, token) if token else None
    except Exception:  # a name on an error page is never worth a second error
        log.warning("portal: no shop name for the %s page", request.path, exc_info=True)
        return None
    return merchant.name if merchant else None


def with_error(form: ConvertForm, message: str) -> ConvertForm:
    return ConvertForm(form_key=form.form_key, csrf=form.csrf, points=form.points, error=message)


def customer_formats(customer: Customer) -> SimpleNamespace:
    """The e-mails' filters (number, money, date, datetime) in the customer's locale (else
    the merchant's), and the page's ``lang``."""
    _language, locale = portal.language(get_session(), customer)
    fmt = formatting(get_session(), customer.merchant_id, locale=locale)
    filters = environment(fmt, html=True).filters
    names = ("number", "money", "date", "datetime")
    return SimpleNamespace(
        lang=fmt.locale.replace("_", "-"), **{name: filters[name] for name in names}
    )


def message_for(error: LoyaltyError, f: SimpleNamespace) -> str:
    """What went wrong, for the customer."""
    if isinstance(error, InsufficientPoints):
        return gettext(
            "You do not have enough points: you asked for %(requested)s and have "
            "%(available)s available.",
            requested=f.number(error.requested),
            available=f.number(error.available),
        )
    if isinstance(error, IdempotencyConflict):
        return gettext("This form was already sent with other points. Please try again.")
    return _refusal(error.message, f)


def _refusal(text: str, f: SimpleNamespace) -> str:
    """A refusal of the coupon rules (``domain/coupons.py``) in the customer's language."""
    numbers = [int(n) for n in re.findall(r"\d+", text)]
    if text.startswith("at least") and numbers:
        return ngettext(
            "At least %(points)s point is needed.",
            "At least %(points)s points are needed.",
            numbers[0],
            points=f.number(numbers[0]),
        )
    if text.startswith("choose one of the packages"):
        offered = ", ".join(f.number(n) for n in numbers)
        return gettext("Choose one of the coupons: %(offered)s points.", offered=offered)
    if "worth anything" in text:
        return gettext("Too few points to make a coupon worth anything.")
    if "zero" in text or "greater than 0" in text:
        return gettext("Points must not be zero.")
    if "cannot be turned into coupons" in text:
        return gettext("Points cannot be turned into coupons here.")
    return text[:1].upper() + text[1:].rstrip(".") + "."
