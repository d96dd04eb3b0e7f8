"""``<prefix>/portal``: every page of the customer portal.

A signed link (``/portal/link/<token>``) sets the portal cookie and redirects to the
overview; every other page reads that cookie. See ``docs/portal.md``.
"""

from __future__ import annotations

from flask import Blueprint
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from loyalty_plugin.services.customers.portal import PortalLinkExpired, PortalLinkInvalid
from loyalty_plugin.web.portal import new_link, preferences, shop, views, wording
from loyalty_plugin.web.portal.forms import FormRejected

blueprint = Blueprint(
    "portal",
    __name__,
    url_prefix="/portal",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

#: (rule, view, methods): the portal's whole URL surface.
ROUTES = (
    ("/link/<token>", views.open_link, ["GET"]),
    ("", views.overview, ["GET"]),
    ("/", views.with_slash, ["GET"]),
    ("/points", views.points, ["GET"]),
    ("/credit", views.credit, ["GET"]),
    ("/coupons", views.coupons, ["GET"]),
    ("/coupons", views.convert, ["POST"]),
    ("/rewards", shop.rewards, ["GET"]),
    ("/rewards/<int:reward_id>", shop.reward_confirm, ["GET"]),
    ("/rewards/<int:reward_id>", shop.reward_buy, ["POST"]),
    ("/level", shop.level, ["GET"]),
    ("/memberships", shop.memberships, ["GET"]),
    ("/memberships/<level>", shop.membership_confirm, ["GET"]),
    ("/memberships/<level>", shop.membership_buy, ["POST"]),
    ("/preferences", preferences.preferences, ["GET"]),
    ("/preferences", preferences.change_preferences, ["POST"]),
    ("/sign-out", views.sign_out, ["POST"]),
    ("/new-link", new_link.ask_new_link, ["POST"]),
)

for rule, view, methods in ROUTES:
    blueprint.add_url_rule(rule, view_func=view, methods=methods)

# A global (not a context variable) so imported macros see it, as Flask-Babel's would be.
blueprint.add_app_template_global(wording.ngettext, "ngettext")
blueprint.before_request(views.load_customer)
blueprint.after_request(views.secure_headers)
blueprint.register_error_handler(PortalLinkExpired, views.link_expired)
blueprint.register_error_handler(PortalLinkInvalid, views.link_invalid)
blueprint.register_error_handler(views.SignedOut, views.signed_out)
blueprint.register_error_handler(FormRejected, views.form_rejected)
blueprint.register_error_handler(HTTPException, views.http_error)
blueprint.register_error_handler(DBAPIError, views.database_error)
blueprint.register_error_handler(PoolTimeout, views.database_error)
blueprint.register_error_handler(Exception, views.unexpected)
