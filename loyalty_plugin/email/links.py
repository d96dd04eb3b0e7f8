"""The links in e-mails: the customer's portal and a signed unsubscribe link.

Both tokens are signed with the app's secret key (itsdangerous) and name the merchant and
the customer. The portal link expires after ``LOYALTY_PORTAL_LINK_DAYS`` (it opens the
customer's points and can spend them); the unsubscribe link never expires: a link in an old
e-mail must still work.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

from loyalty_plugin.services.customers.portal import link_url, make_token

log = logging.getLogger(__name__)

_SALT = "loyalty-unsubscribe"
#: Used when ``LOYALTY_PUBLIC_URL`` is unset (fine for development only).
FALLBACK_URL = "http://localhost:8000"
#: Fallback addresses already warned about: the warning is logged once per process.
_warned: set[str] = set()


def unsubscribe_token(secret: str, *, merchant_id: str, customer_id: int) -> str:
    """A token naming the customer, for the unsubscribe link."""
    return URLSafeSerializer(secret, salt=_SALT).dumps([merchant_id, customer_id])


def read_unsubscribe_token(secret: str, token: str) -> tuple[str, int] | None:
    """The (merchant, customer) a token names, or ``None`` if it was not signed by us."""
    try:
        merchant_id, customer_id = URLSafeSerializer(secret, salt=_SALT).loads(token)
    except (BadSignature, ValueError, TypeError):
        return None
    if not isinstance(merchant_id, str) or not isinstance(customer_id, int):
        return None
    return merchant_id, customer_id


def base_url(config: Mapping[str, Any]) -> str:
    """Where the service is reached from outside, with the blueprints' prefix."""
    public = config.get("LOYALTY_PUBLIC_URL")
    if not public:
        public = FALLBACK_URL
        if public not in _warned:
            _warned.add(public)
            log.warning("LOYALTY_PUBLIC_URL is not set; e-mail links point to %s", public)
    return str(public).rstrip("/") + str(config.get("LOYALTY_URL_PREFIX") or "")


def portal_valid_for(config: Mapping[str, Any]) -> timedelta:
    """How long a new portal link works (``LOYALTY_PORTAL_LINK_DAYS``)."""
    return timedelta(days=int(config.get("LOYALTY_PORTAL_LINK_DAYS") or 30))


def links_for(
    config: Mapping[str, Any],
    *,
    merchant_id: str,
    customer_id: int,
    now: datetime | None = None,
) -> dict[str, str]:
    """The ``links`` template variable for one customer: a fresh portal link each time."""
    base = base_url(config)
    secret = str(config["LOYALTY_SECRET_KEY"])
    expires_at = (now or datetime.now(UTC)) + portal_valid_for(config)
    portal = make_token(
        secret, merchant_id=merchant_id, customer_id=customer_id, expires_at=expires_at
    )
    unsubscribe = unsubscribe_token(secret, merchant_id=merchant_id, customer_id=customer_id)
    return {
        "portal": link_url(base, portal),
        "unsubscribe": f"{base}/email/unsubscribe/{unsubscribe}",
    }
