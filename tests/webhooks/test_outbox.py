"""Webhooks out: written with the change, signed, posted to a real receiver, retried."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import standardwebhooks
from sqlalchemy import select

from loyalty_plugin.domain.signatures import verify
from loyalty_plugin.models import OutboxAttempt, OutboxMessage, OutboxStatus
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.ledger.accounts import account_for_host_customer
from loyalty_plugin.services.messaging.outbox import (
    OutboxSettings,
    deliver_due,
    retry_message,
    set_endpoint,
)
from tests.webhooks.conftest import SECRET, customer, event, invoice

SETTINGS = OutboxSettings(max_attempts=3, timeout_seconds=5)


class Receiver:
    """A host's webhook endpoint on loopback: records each request, answers as told."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.answers: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(receiver.answers.pop(0) if receiver.answers else 204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/loyalty"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    thread = threading.Thread(
        target=receiver.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()
    thread.join()


@pytest.fixture
def hooked(shop, send, receiver, now):
    """The shop posts its webhooks to the receiver; customer c1 is registered."""
    set_endpoint(shop, merchant_id="shop", url=receiver.url, now=now)
    shop.commit()
    send(event("customer.created", {"customer": customer()}))
    return shop


def messages(session) -> list[OutboxMessage]:
    session.expire_all()
    return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_changes_write_outbox_rows_in_their_transaction(hooked, send) -> None:
    """An earn and a reversal each leave one pending message with the event's data."""
    send(event("invoice.paid", {"invoice": invoice()}))
    send(event("invoice.cancelled", {"invoice_id": "INV-1"}))
    rows = messages(hooked)
    assert [(m.event_type, m.payload["data"]["points"]) for m in rows] == [
        ("points.earned", 50),
        ("points.earned", 12),
        ("points.reversed", -12),
    ]
    assert {m.status for m in rows} == {OutboxStatus.PENDING}
    assert rows[1].payload["data"]["reference"] == "invoice:INV-1"


def test_a_rolled_back_change_leaves_no_message(hooked, now) -> None:
    """The outbox row goes with its transaction: rolled back, nothing is sent."""
    account = account_for_host_customer(hooked, "shop", "c1")
    ledger.earn(hooked, account_id=account.id, points=5, now=now, actor="t")
    hooked.rollback()
    assert len(messages(hooked)) == 1


def test_no_endpoint_no_messages(shop, send) -> None:
    """A merchant without an endpoint gets no outbox rows."""
    send(event("customer.created", {"customer": customer()}))
    assert messages(shop) == []


def test_delivery_signs_and_posts_each_message_once(hooked, send, receiver, now) -> None:
    """The receiver verifies every message with our verifier and the reference library."""
    send(event("invoice.paid", {"invoice": invoice()}))
    now = utcnow()  # the reference library checks the timestamp against the real clock
    assert deliver_due(hooked, now=now, settings=SETTINGS) == {
        "delivered": 2,
        "retry": 0,
        "dead": 0,
    }
    assert len(receiver.requests) == 2
    for headers, body in receiver.requests:
        assert verify([SECRET], headers=headers, body=body, now=now) == SECRET
        assert standardwebhooks.Webhook(SECRET).verify(body, headers)["type"] == "points.earned"
    assert json.loads(receiver.requests[1][1])["data"]["points"] == 12
    assert [m.status for m in messages(hooked)] == [OutboxStatus.DELIVERED] * 2
    assert deliver_due(hooked, now=now + timedelta(hours=1), settings=SETTINGS)["delivered"] == 0
    assert len(receiver.requests) == 2


def test_failures_are_retried_with_backoff_and_recorded(hooked, receiver, now) -> None:
    """A 500 is retried after the backoff, keeping its webhook-id; each attempt is kept."""
    receiver.answers = [500]
    assert deliver_due(hooked, now=now, settings=SETTINGS)["retry"] == 1
    (message,) = messages(hooked)
    assert message.next_attempt_at == now + SETTINGS.retry_base
    assert deliver_due(hooked, now=now + timedelta(seconds=10), settings=SETTINGS)["retry"] == 0
    later = now + timedelta(seconds=31)
    assert deliver_due(hooked, now=later, settings=SETTINGS)["delivered"] == 1
    ids = {headers["webhook-id"] for headers, _ in receiver.requests}
    assert ids == {message.message_id}
    attempts = hooked.scalars(select(OutboxAttempt.status_code).order_by(OutboxAttempt.id))
    assert list(attempts) == [500, 204]


def test_after_the_limit_a_message_is_dead_until_retried(hooked, receiver, now) -> None:
    """Three failures make it dead; ``retry_message`` sends it once more."""
    receiver.answers = [503, 503, 503]
    when = now
    for _ in range(3):
        deliver_due(hooked, now=when, settings=SETTINGS)
        when += timedelta(hours=7)
    (message,) = messages(hooked)
    assert message.status == OutboxStatus.DEAD and message.last_error == "HTTP 503"
    retry_message(hooked, message_id=message.id, now=when)
    hooked.commit()
    assert deliver_due(hooked, now=when, settings=SETTINGS)["delivered"] == 1


def test_an_unreachable_host_is_an_attempt_without_status(hooked, now) -> None:
    """Connection refused is recorded as an error and retried."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    set_endpoint(hooked, merchant_id="shop", url=f"http://127.0.0.1:{port}/", now=now)
    hooked.commit()
    assert deliver_due(hooked, now=now, settings=SETTINGS)["retry"] == 1
    attempt = hooked.scalars(select(OutboxAttempt)).one()
    assert attempt.status_code is None and "refused" in attempt.error.lower()
