"""Send a host event to loyalty_plugin, signed with Standard Webhooks. Standard library only.

Copy this file into your host. ``send_event(url, secret, event)`` returns the HTTP status and
the decoded answer; give a retry of the same event the same ``event_id``. It never raises for
a network or answer problem: status ``0`` means the service was not reached (retry later with
the same ``event_id``), and the answer then says why in ``{"error": {"code", "message"}}``,
as do answers that are not JSON (``not_json``). A secret that is not ``whsec_`` + base64 gives
status ``0`` and ``invalid_secret``. ``Decimal`` amounts and ``date``/``datetime`` values are
sent as exact strings (``"129.90"``, ISO 8601).

    status, answer = send_event(
        "https://crm.example.com/loyalty/webhooks",
        "whsec_...",
        {"type": "invoice.paid", "occurred_at": "2026-03-01T10:00:00Z",
         "data": {"invoice": {...}}},
        event_id="invoice-1001-paid",
    )
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
import uuid
from datetime import date
from decimal import Decimal


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header: ``v1,`` and the base64 HMAC-SHA256."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def send_event(
    url: str, secret: str, event: dict, event_id: str | None = None, timeout: float = 10
) -> tuple[int, dict]:
    """POST ``event`` signed with ``secret``; returns (status, answer), never raises for I/O."""
    body = json.dumps(event, default=_plain).encode()
    msg_id = event_id or f"msg_{uuid.uuid4().hex}"
    timestamp = int(time.time())
    try:
        signature = sign(secret, msg_id, timestamp, body)
    except (binascii.Error, ValueError):
        return 0, _error("invalid_secret", "the secret is not whsec_ followed by base64")
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
    }
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, _decoded(response.status, response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, _decoded(error.code, error.read())
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        return 0, _error("unreachable", f"could not reach {url}: {reason}; retry later")


def _plain(value: object) -> str:
    """JSON for what ``json`` cannot write: exact money and ISO 8601 dates."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):  # datetime too
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _decoded(status: int, raw: bytes) -> dict:
    """The JSON answer, or an ``error`` saying that the answer was not JSON."""
    try:
        answer = json.loads(raw or b"{}")
    except ValueError:
        return _error("not_json", f"HTTP {status} with a body that is not JSON: is the URL right?")
    return answer if isinstance(answer, dict) else {"answer": answer}


def _error(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}
