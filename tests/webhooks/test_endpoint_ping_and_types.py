"""The outgoing endpoint: a test ping posted signed to a real local receiver, with its
answer; and the event types an endpoint chose are the only ones queued for it."""

from __future__ import annotations

import json
import socket

import pytest
from sqlalchemy import select

from loyalty_plugin.domain.errors import ValidationError
from loyalty_plugin.domain.signatures import verify
from loyalty_plugin.models import AuditEntry, OutboxMessage
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.messaging.outbox import (
    OutboxSettings,
    ping_endpoint,
    set_endpoint,
)
from tests.webhooks.conftest import SECRET, customer, event, invoice
from tests.webhooks.test_outbox import receiver  # noqa: F401

SETTINGS = OutboxSettings(timeout_seconds=5)


def test_a_ping_is_signed_and_its_answer_shown(shop, receiver, now) -> None:  # noqa: F811
    """200 from the receiver: ok with the status and time; 500: failed with it; a closed
    port: the network error. Each ping is audited; nothing is queued."""
    set_endpoint(shop, merchant_id="shop", url=receiver.url, now=now, enabled=False)
    now = utcnow()  # the signature's timestamp is checked against the real clock
    done = ping_endpoint(shop, merchant_id="shop", now=now, settings=SETTINGS, actor="t")
    shop.commit()
    assert (done.ok, done.status_code, done.error) == (True, 204, None)
    assert done.duration_ms >= 0 and done.message_id.startswith("msg_")
    (headers, body) = receiver.requests[0]
    assert verify([SECRET], headers=headers, body=body, now=now) == SECRET
    assert headers["webhook-id"] == done.message_id
    assert json.loads(body)["type"] == "ping" and json.loads(body)["merchant_id"] == "shop"
    receiver.answers = [500]
    failed = ping_endpoint(shop, merchant_id="shop", now=now, settings=SETTINGS)
    assert (failed.ok, failed.status_code, failed.error) == (False, 500, "HTTP 500")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    set_endpoint(shop, merchant_id="shop", url=f"http://127.0.0.1:{closed}/x", now=now)
    down = ping_endpoint(shop, merchant_id="shop", now=now, settings=SETTINGS)
    assert down.status_code is None and down.error.startswith("URLError")
    shop.commit()
    assert shop.scalars(select(OutboxMessage)).all() == []
    pings = shop.scalars(
        select(AuditEntry)
        .where(AuditEntry.action == "webhook_endpoint.pinged")
        .order_by(AuditEntry.id)
    )
    assert [p.after["status_code"] for p in pings] == [204, 500, None]


def test_only_the_chosen_event_types_are_queued(shop, send, now) -> None:
    """An endpoint that chose coupon.created gets no points.earned; None is all again."""
    set_endpoint(shop, merchant_id="shop", url="https://crm.example/h", now=now,
                 event_types=["coupon.created"])  # fmt: skip
    shop.commit()
    send(event("customer.created", {"customer": customer()}))
    send(event("invoice.paid", {"invoice": invoice()}))
    assert shop.scalars(select(OutboxMessage.event_type)).all() == []
    set_endpoint(shop, merchant_id="shop", url="https://crm.example/h", now=now,
                 event_types=None)  # fmt: skip
    shop.commit()
    send(event("invoice.paid", {"invoice": invoice("INV-2")}))
    assert set(shop.scalars(select(OutboxMessage.event_type))) == {"points.earned"}
    with pytest.raises(ValidationError) as empty:
        set_endpoint(shop, merchant_id="shop", url="https://crm.example/h", now=now,
                     event_types=[])  # fmt: skip
    assert empty.value.field == "event_types"
    with pytest.raises(ValidationError):
        set_endpoint(shop, merchant_id="shop", url="https://crm.example/h", now=now,
                     event_types=["points.stolen"])  # fmt: skip
