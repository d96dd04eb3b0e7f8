"""Which host pages may show the customer portal in a frame (``frame-ancestors``).

A merchant lists the origins of its own customer area. Each must be an origin and nothing
more: ``https://host[:port]``, or ``http://`` for a loopback host (a developer's machine).
No paths, no wildcards, no ``'self'`` or other CSP keywords: a value is written into the
``Content-Security-Policy`` header as it is, so only what this module returns may reach it.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from loyalty_plugin.domain.errors import ValidationError

FIELD = "portal_frame_ancestors"
#: At most this many origins: a customer area has one or two addresses, not a list of sites.
MAX_ORIGINS = 20
LOOPBACK_NAMES = frozenset({"localhost"})
_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
_HOST = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*$")


def is_loopback(host: str) -> bool:
    """``localhost``, ``127.0.0.0/8`` or ``::1``."""
    if host in LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_origin(text: str) -> str:
    """``text`` as a normalised origin (``https://shop.example``), or :class:`ValidationError`."""
    value = text.strip() if isinstance(text, str) else ""
    if not value or len(value) > 300 or any(c.isspace() or c in ";,'\"*" for c in value):
        raise ValidationError(f"{text!r} is not an origin like https://shop.example", field=FIELD)
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise ValidationError(f"{text!r} has a bad port", field=FIELD) from None
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("https", "http") or not host or parts.username or parts.password:
        raise ValidationError(f"{text!r} is not an origin like https://shop.example", field=FIELD)
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValidationError(f"{text!r} has a path: give the origin only", field=FIELD)
    if parts.scheme == "http" and not is_loopback(host):
        message = f"{text!r} must use https (http only on a loopback host)"
        raise ValidationError(message, field=FIELD)
    if not (_HOST.match(host) or _is_ip(host)):
        raise ValidationError(f"{text!r} has no valid host name", field=FIELD)
    shown = f"[{host}]" if ":" in host else host
    default = {"https": 443, "http": 80}[parts.scheme]
    return f"{parts.scheme}://{shown}" + (f":{port}" if port and port != default else "")


def parse_origins(values: object) -> list[str]:
    """A list of origins, normalised, without duplicates, in the order given."""
    if values is None:
        return []
    if not isinstance(values, list | tuple):
        raise ValidationError("a list of origins", field=FIELD)
    if len(values) > MAX_ORIGINS:
        raise ValidationError(f"at most {MAX_ORIGINS} origins", field=FIELD)
    origins: list[str] = []
    for value in values:
        origin = parse_origin(value)
        if origin not in origins:
            origins.append(origin)
    return origins


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
