"""Who is signed in, what they may open, and what every admin answer carries.

The signed-in staff member comes from a stored session (:mod:`loyalty_plugin.services.staff.
sessions`) named by the ``loyalty_admin`` cookie: a random token whose hash is looked up.
Nothing here uses ``flask.session`` or the app's ``SECRET_KEY``: the plugin may be mounted
in a host app whose session and key we neither own nor want to depend on, and a stored
session can be ended on the server (sign out everywhere). See ``docs/admin.md``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Response, current_app, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import Forbidden, HTTPException, NotFound

from loyalty_plugin.config import int_setting
from loyalty_plugin.database import is_unavailable
from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import AdminSession, StaffRole
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.audit import Actor
from loyalty_plugin.services.staff import StaffPolicy
from loyalty_plugin.services.staff.accounts import merchants_of
from loyalty_plugin.services.staff.sessions import read_session, set_flash, take_flash
from loyalty_plugin.services.transaction import run_in_transaction
from loyalty_plugin.web.admin.forms import FORM_COOKIE, FormRejected, check_csrf
from loyalty_plugin.web.errors import RETRY_AFTER_SECONDS

log = logging.getLogger(__name__)

#: The cookie naming the stored session.
COOKIE = "loyalty_admin"
#: Role names in templates and tests.
Role = StaffRole
HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}
_SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


@dataclass(frozen=True, kw_only=True)
class AdminRoute:
    """One admin URL: its rule under ``/admin``, the view, and the lowest role allowed.

    ``role=None`` is public (sign-in, admin link, set-password). A rule with
    ``<merchant_id>`` needs a membership of that merchant with at least ``role``; a rule
    without it needs only a signed-in staff member.
    """

    rule: str
    view: Callable[..., Any]
    role: StaffRole | None
    methods: tuple[str, ...] = ("GET",)
    #: The endpoint name under ``admin.``; the view's name by default.
    endpoint: str | None = None

    @property
    def name(self) -> str:
        """The endpoint under ``admin.`` (``url_for("admin." + route.name)``)."""
        return self.endpoint or self.view.__name__

    @property
    def merchant_scoped(self) -> bool:
        """True when the rule names a merchant."""
        return "<merchant_id>" in self.rule


@dataclass(frozen=True, kw_only=True)
class NavItem:
    """An entry of the navigation: shown when its endpoint exists and the role allows it."""

    label: str
    #: A merchant page's endpoint (``admin.customers``); it takes ``merchant_id`` only.
    endpoint: str
    role: StaffRole
    #: Place in the bar, smallest first (Dashboard 10 ... Audit 70, Staff 90).
    position: int = 50
    #: The group the entry is shown in (``blueprint.SECTIONS``); none: under "More".
    section: str | None = None


@dataclass(kw_only=True)
class AdminContext:
    """The signed-in staff member, and the merchant the page is about (if any)."""

    staff_id: int
    staff_name: str
    staff_email: str
    #: ``[(merchant_id, name, role)]`` of every merchant the staff member belongs to.
    merchants: list[tuple[str, str, StaffRole]]
    session: AdminSession
    merchant_id: str | None = None
    merchant_name: str | None = None
    #: The role at ``merchant_id`` (``None`` on pages about no merchant).
    role: StaffRole | None = None
    flash: str | None = None

    @property
    def csrf(self) -> str:
        """The value every form of this session posts back as ``csrf``."""
        return self.session.csrf_secret

    @property
    def actor(self) -> Actor:
        """The staff member as the audit trail names them."""
        return Actor.staff(self.staff_id, self.staff_name)

    def may(self, needed: StaffRole) -> bool:
        """True if the role at the current merchant allows ``needed``."""
        return self.role is not None and self.role.grants(needed)


class SignInNeeded(Exception):
    """A page that needs a signed-in staff member was opened without a live session."""


#: Every admin route by endpoint (``admin.<name>``), filled by :func:`register_routes`.
_ROUTES: dict[str, AdminRoute] = {}
#: The navigation bar (``blueprint.NAV``).
_NAV: list[NavItem] = []
#: The order of the bar's sections (``blueprint.SECTIONS``); others follow, "More" last.
_SECTIONS: list[str] = []
#: Where entries without a section go.
OTHER_SECTION = "More"


@dataclass(frozen=True)
class NavLink:
    """A bar entry as shown: its label, address, and whether it is the page open now."""

    label: str
    url: str
    here: bool


@dataclass(frozen=True)
class NavSection:
    """A group of the bar as shown: its name, its first screen's address, its screens, and
    whether the page open now is one of them."""

    label: str
    url: str
    links: tuple[NavLink, ...]
    here: bool


def register_routes(
    blueprint: Any,
    routes: tuple[AdminRoute, ...],
    nav: list[NavItem],
    sections: tuple[str, ...] = (),
) -> None:
    """Add ``routes`` to the blueprint, remember each one's role, and use ``nav`` as the bar
    (grouped in ``sections``, in that order)."""
    for route in routes:
        blueprint.add_url_rule(
            route.rule, endpoint=route.name, view_func=route.view, methods=list(route.methods)
        )
        _ROUTES[f"{blueprint.name}.{route.name}"] = route
    _NAV[:] = nav
    _SECTIONS[:] = sections


def visible_nav() -> list[NavSection]:
    """The bar for this page, by section: entries whose endpoint exists and whose role the
    user has; a section with none of them is left out."""
    ctx = signed_in()
    if ctx is None or ctx.merchant_id is None or ctx.role is None:
        return []
    views = current_app.view_functions
    grouped: dict[str, list[NavLink]] = {}
    for item in sorted(_NAV, key=lambda item: item.position):
        if item.endpoint in views and ctx.role.grants(item.role):
            url = url_for(item.endpoint, merchant_id=ctx.merchant_id)
            link = NavLink(label=item.label, url=url, here=_is_here(item, url))
            grouped.setdefault(item.section or OTHER_SECTION, []).append(link)
    order = [*_SECTIONS, *(name for name in grouped if name not in _SECTIONS)]
    order.sort(key=lambda name: name == OTHER_SECTION)
    shown = [_section(name, grouped[name]) for name in order if name in grouped]
    first_here = next((section for section in shown if section.here), None)
    return [s if s is first_here else _section(s.label, list(s.links), here=False) for s in shown]


def _section(label: str, links: list[NavLink], *, here: bool = True) -> NavSection:
    """A section of the bar; only its first entry that is the open page counts as here
    (none when ``here`` is false: another section has the open page)."""
    current = next((link for link in links if link.here and here), None)
    shown = tuple(NavLink(link.label, link.url, link is current) for link in links)
    return NavSection(label=label, url=links[0].url, links=shown, here=current is not None)


def _is_here(item: NavItem, url: str) -> bool:
    """The entry's own page, a page under its address (a customer under Customers), a form
    posted to it, or an endpoint named after it (``admin.customers_show``)."""
    endpoint, path = request.endpoint or "", request.path
    if endpoint == item.endpoint or endpoint.startswith(item.endpoint + "_"):
        return True
    if url.endswith("/"):  # the merchant's home: every page is under it
        return path == url
    return path == url or path.startswith(url + "/")


def page_url(page: int) -> str:
    """This list's address at another page, its filters kept."""
    args = {**(request.view_args or {}), **request.args.to_dict(), "page": page}
    return url_for(request.endpoint or "", **args)


def switch_url(merchant_id: str) -> str:
    """The same page for another merchant if it has one, else that merchant's first page."""
    route = route_of(request.endpoint)
    args = request.view_args or {}
    if route is not None and route.merchant_scoped and set(args) == {"merchant_id"}:
        role = next((m[2] for m in current().merchants if m[0] == merchant_id), None)
        if role is not None and (route.role is None or role.grants(route.role)):
            return url_for(request.endpoint or "", merchant_id=merchant_id)
    return url_for("admin.merchant_home", merchant_id=merchant_id)


def route_of(endpoint: str | None) -> AdminRoute | None:
    """The admin route registered under ``endpoint``."""
    return _ROUTES.get(endpoint or "")


def current() -> AdminContext:
    """The signed-in staff member of this request (only on pages that need one)."""
    return g.admin


def signed_in() -> AdminContext | None:
    """The signed-in staff member, or ``None`` (public pages)."""
    return g.get("admin")


def policy() -> StaffPolicy:
    """Session and throttling settings from the configuration."""
    config = current_app.config
    return StaffPolicy(
        session_hours=int_setting(config, "LOYALTY_ADMIN_SESSION_HOURS"),
        idle_minutes=int_setting(config, "LOYALTY_ADMIN_IDLE_MINUTES"),
        max_attempts_account=int_setting(config, "LOYALTY_ADMIN_MAX_ATTEMPTS"),
        max_attempts_address=int_setting(config, "LOYALTY_ADMIN_MAX_ATTEMPTS_PER_ADDRESS"),
        attempt_minutes=int_setting(config, "LOYALTY_ADMIN_ATTEMPT_MINUTES"),
        password_link_hours=int_setting(config, "LOYALTY_ADMIN_PASSWORD_LINK_HOURS"),
    )


def flash(text: str) -> None:
    """Show ``text`` once on the next page this session opens (after a redirect)."""
    ctx = current()
    run_in_transaction(get_session(), lambda s: set_flash(s, ctx.session, text))


# -- request hooks -------------------------------------------------------------------------


def load_staff() -> ResponseReturnValue | None:
    """Put the signed-in staff member on ``g``, check the role, and check CSRF on posts."""
    route = route_of(request.endpoint)
    if route is None:
        if request.endpoint in (None, "admin.static"):
            return None  # the stylesheet and scripts, or a URL that matches nothing (404)
        # A view added to the blueprint outside ROUTES has no role: refuse it (fail closed).
        raise NotFound
    ctx = _read_session()
    if route.role is None:
        if request.method not in _SAFE_METHODS:
            check_csrf(request.form, ctx.csrf if ctx else None)
        return None
    if ctx is None:
        raise SignInNeeded
    _check_role(ctx, route)
    if request.method not in _SAFE_METHODS:
        check_csrf(request.form, ctx.csrf)
    elif ctx.session.flash is not None:
        ctx.flash = run_in_transaction(get_session(), lambda s: take_flash(s, ctx.session))
    return None


def _read_session() -> AdminContext | None:
    token = request.cookies.get(COOKIE, "")
    if not token:
        return None
    session = get_session()
    row = run_in_transaction(
        session, lambda s: read_session(s, token, policy=policy(), now=utcnow())
    )
    if row is None:
        return None
    staff = row.staff
    ctx = AdminContext(
        staff_id=staff.id,
        staff_name=staff.name,
        staff_email=staff.email,
        merchants=merchants_of(session, staff.id),
        session=row,
    )
    g.admin = ctx
    return ctx


def _check_role(ctx: AdminContext, route: AdminRoute) -> None:
    merchant_id = (request.view_args or {}).get("merchant_id")
    if not route.merchant_scoped or merchant_id is None:
        return
    found = next((m for m in ctx.merchants if m[0] == merchant_id), None)
    if found is None:
        raise NotFound  # another merchant's page: say nothing about it
    ctx.merchant_id, ctx.merchant_name, ctx.role = found
    if route.role is not None and not ctx.role.grants(route.role):
        raise Forbidden(f"this page needs the {route.role.value} role")


def secure_headers(response: Response) -> Response:
    """No caching, no framing, nothing from elsewhere, no address leaking in a Referer."""
    for name, value in HEADERS.items():
        if request.endpoint == "admin.static" and name == "Cache-Control":
            continue
        response.headers.setdefault(name, value)
    form_cookie = g.get("admin_form_cookie")
    if form_cookie:
        response.set_cookie(
            FORM_COOKIE,
            form_cookie,
            path=cookie_path(),
            secure=request.is_secure or public_https(),
            httponly=True,
            samesite="Lax",
        )
    return response


def set_cookie(response: Response, token: str, *, expires: datetime) -> None:
    """Send the session cookie: HttpOnly, SameSite=Lax, Secure over https, admin path only."""
    response.set_cookie(
        COOKIE,
        token,
        expires=expires,
        path=cookie_path(),
        # Behind a proxy that ends TLS the request looks like http: the public URL says.
        secure=request.is_secure or public_https(),
        httponly=True,
        samesite="Lax",
    )


def clear_cookie(response: Response) -> None:
    """Forget the session cookie on this browser."""
    response.delete_cookie(COOKIE, path=cookie_path())


def cookie_path() -> str:
    """The admin pages' path (the cookie is sent nowhere else)."""
    return url_for("admin.choose_merchant")


def public_https() -> bool:
    """True when ``LOYALTY_PUBLIC_URL`` is https (TLS ended by a proxy in front of us)."""
    return str(current_app.config.get("LOYALTY_PUBLIC_URL") or "").startswith("https://")


def external_url(endpoint: str, **values: Any) -> str:
    """The full address of a page: on ``LOYALTY_PUBLIC_URL`` when set, else this request's."""
    public = str(current_app.config.get("LOYALTY_PUBLIC_URL") or "").rstrip("/")
    if public:
        return public + url_for(endpoint, **values)
    return url_for(endpoint, _external=True, **values)


# -- error pages ---------------------------------------------------------------------------


def sign_in_needed(_error: Exception) -> ResponseReturnValue:
    """Anonymous visitor: to the sign-in page, coming back here afterwards."""
    target = request.full_path.rstrip("?") if request.method == "GET" else None
    return redirect(url_for("admin.sign_in_page", next=target), 303)


def form_rejected(_error: Exception) -> ResponseReturnValue:
    return error_page("form", 400)


def http_error(error: HTTPException) -> ResponseReturnValue:
    return error_page("http", error.code or 500, error=error)


def database_error(error: Exception) -> ResponseReturnValue:
    """The database cannot be reached: a "try again shortly" page, 503 with Retry-After."""
    if not is_unavailable(error):
        return unexpected(error)
    log.warning("admin: database unavailable on %s %s", request.method, request.path)
    page, status = error_page("unavailable", 503)
    return page, status, {"Retry-After": str(RETRY_AFTER_SECONDS)}


def unexpected(error: Exception) -> ResponseReturnValue:
    if isinstance(error, HTTPException):
        return http_error(error)
    log.exception("admin error on %s %s", request.method, request.path)
    return error_page("error", 500)


def error_page(state: str, status: int, **context: Any) -> tuple[str, int]:
    """An error page in the admin look (with the navigation when signed in)."""
    return render_template("admin/error.html", state=state, status=status, **context), status


def routing_error(error: HTTPException) -> Response:
    """A 404 or 405 under ``/admin`` that matched no view: the admin error page."""
    page, status = http_error(error)  # type: ignore[misc]
    return secure_headers(Response(page, status))


ERRORS: tuple[tuple[type[BaseException], Callable[..., ResponseReturnValue]], ...] = (
    (SignInNeeded, sign_in_needed),
    (FormRejected, form_rejected),
    (HTTPException, http_error),
)
