"""Access to the portal: the link or cookie a request came with, and how the cookie is set.

Shared by the pages (:mod:`.views`) and the "e-mail me a new link" flow (:mod:`.new_link`).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app, g, request, url_for

from loyalty_plugin.extensions import get_session
from loyalty_plugin.services.customers import portal

log = logging.getLogger(__name__)

#: The cookie that holds the customer's portal link.
COOKIE = "loyalty_portal"


def frame_origins() -> list[str]:
    """The ``frame-ancestors`` sources: the merchant's host origins, else ``'none'``.

    Known once the cookie or the link names the merchant (expired or not, so a framed
    portal can show its "link expired" page); never asked of a database that just failed.
    """
    if "portal_frames" not in g:
        g.portal_frames = []
        merchant_id = g.portal_customer.merchant_id if "portal_customer" in g else None
        link = token()
        try:
            if merchant_id is None and link and not g.get("portal_database_down"):
                merchant = portal.shop_of_token(get_session(), secret(), link)
                merchant_id = merchant.id if merchant else None
            if merchant_id is not None:
                g.portal_frames = portal.frame_ancestors(get_session(), merchant_id)
        except Exception:  # refusing frames is the safe answer to any trouble here
            log.warning("portal: no frame origins for %s", request.path, exc_info=True)
    return g.portal_frames or ["'none'"]


def token() -> str | None:
    """The link this request came with: in the address, the new-link form, or the cookie."""
    posted = request.form.get("link") if request.endpoint == "portal.ask_new_link" else None
    return (request.view_args or {}).get("token") or posted or request.cookies.get(COOKIE)


def language_of_token() -> str | None:
    """The language of the customer a link or cookie of ours names, for an error page."""
    link = token()
    try:
        customer = portal.customer_of_token(get_session(), secret(), link) if link else None
        return portal.language(get_session(), customer)[0] if customer else None
    except Exception:  # the page is shown in English rather than not at all
        log.warning("portal: no language for the %s page", request.path, exc_info=True)
        return None


def _public_https() -> bool:
    return str(current_app.config.get("LOYALTY_PUBLIC_URL") or "").startswith("https://")


def secret() -> str:
    """The key that signs portal links and forms."""
    return str(current_app.config["LOYALTY_SECRET_KEY"])


def _cookie_path() -> str:
    return url_for("portal.overview")


def cookie_options() -> dict[str, Any]:
    """``Lax``, or for a portal the host may frame ``SameSite=None; Secure; Partitioned``.

    Framed, the portal is a third party in the host's page: its cookie is sent there only
    as ``SameSite=None``, which browsers take only when ``Secure``, and browsers that block
    third-party cookies keep it only when ``Partitioned`` (CHIPS: a cookie jar of its own
    per host site). See docs/portal.md#embedding-in-the-hosts-pages.
    """
    framed = frame_origins() != ["'none'"]
    return {
        "path": _cookie_path(),
        # Behind a proxy that ends TLS the request looks like http: the public URL says.
        "secure": framed or request.is_secure or _public_https(),
        "httponly": True,
        "samesite": "None" if framed else "Lax",
        "partitioned": framed,
    }
