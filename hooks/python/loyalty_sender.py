"""Send a host event to loyalty_plugin, signed with Standard Webhooks. Standard library only.

Copy this file into your host. ``send_event(url, secret, event)`` returns the HTTP status and
the decoded answer; give a retry of the same event the same ``event_id``.

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
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
import uuid


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header: ``v1,`` and the base64 HMAC-SHA256."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def send_event(
    url: str, secret: str, event: dict, event_id: str | None = None, timeout: float = 10
) -> tuple[int, dict]:
    """POST ``event`` signed with ``secret``; returns (status, answer)."""
    body = json.dumps(event).encode()
    msg_id = event_id or f"msg_{uuid.uuid4().hex}"
    timestamp = int(time.time())
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, msg_id, timestamp, body),
    }
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read() or b"{}")
