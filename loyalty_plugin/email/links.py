"""The links in e-mails: the customer's points page and a signed unsubscribe link.

The unsubscribe token is signed with the app's secret key (itsdangerous), names the
merchant and the customer, and never expires: a link in an old e-mail must still work.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

log = logging.getLogger(__name__)

_SALT = "loyalty-unsubscribe"
#: Used when ``LOYALTY_PUBLIC_URL`` is unset (fine for development only).
FALLBACK_URL = "http://localhost:8000"


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
        log.warning("LOYALTY_PUBLIC_URL is not set; e-mail links point to %s", FALLBACK_URL)
        public = FALLBACK_URL
    return str(public).rstrip("/") + str(config.get("LOYALTY_URL_PREFIX") or "")


def links_for(config: Mapping[str, Any], *, merchant_id: str, customer_id: int) -> dict[str, str]:
    """The ``links`` template variable for one customer."""
    base = base_url(config)
    token = unsubscribe_token(
        str(config["LOYALTY_SECRET_KEY"]), merchant_id=merchant_id, customer_id=customer_id
    )
    return {"portal": f"{base}/portal", "unsubscribe": f"{base}/email/unsubscribe/{token}"}
