"""``POST /webhooks``: signatures, the inbox, deduplication and the error answers."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from loyalty_plugin.domain.signatures import new_secret
from tests.webhooks.conftest import customer, event, invoice, ledger_points, signed, stored

PAID = event("invoice.paid", {"invoice": invoice(customer=customer())})


def test_a_signed_invoice_is_processed_and_earns(post, host) -> None:
    """A valid delivery answers 200 processed with what it earned (50 + 12 points)."""
    response = post(PAID)
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "processed" and body["result"]["points_earned"] == 12
    assert ledger_points(host) == [("earn", 50), ("earn", 12)]
    assert stored(host) == [("msg_1", "processed", "invoice.paid")]


def test_a_repeat_with_the_same_body_is_a_duplicate(post, host) -> None:
    """The same webhook-id and body answers 200 duplicate and changes nothing."""
    first = post(PAID).get_json()
    again = post(PAID)
    assert again.status_code == 200
    assert again.get_json()["status"] == "duplicate"
    assert again.get_json()["event_id"] == first["event_id"]
    assert ledger_points(host) == [("earn", 50), ("earn", 12)]


def test_a_webhook_id_reused_for_another_body_is_refused(post, host) -> None:
    """The same webhook-id with another body answers 422 webhook_id_reused."""
    post(PAID)
    response = post(event("invoice.paid", {"invoice": invoice(total="999.00")}))
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "webhook_id_reused"
    assert ledger_points(host) == [("earn", 50), ("earn", 12)]


def test_the_same_invoice_under_another_webhook_id_counts_once(post, host) -> None:
    """Business-level exactly-once: a second webhook-id for one invoice earns nothing."""
    post(PAID, msg_id="msg_a")
    response = post(PAID, msg_id="msg_b")
    assert response.status_code == 200
    assert response.get_json()["result"]["points_earned"] == 0
    assert ledger_points(host) == [("earn", 50), ("earn", 12)]


@pytest.mark.parametrize(
    ("kwargs", "headers_change"),
    [
        ({"secret": new_secret()}, {}),
        ({"timestamp": -360}, {}),
        ({"timestamp": +360}, {}),
        ({}, {"webhook-signature": None}),
        ({}, {"webhook-id": None}),
        ({}, {"webhook-timestamp": None}),
    ],
    ids=["wrong-secret", "stale", "future", "no-signature", "no-id", "no-timestamp"],
)
def test_bad_signatures_are_refused_and_not_stored(client, host, kwargs, headers_change) -> None:
    """401 for a wrong secret, a stale or future timestamp, or a missing header."""
    if "timestamp" in kwargs:
        kwargs = {"timestamp": int(time.time()) + kwargs["timestamp"]}
    raw, headers = signed(PAID, **kwargs)
    for name, value in headers_change.items():
        headers.pop(name) if value is None else headers.update({name: value})
    response = client.post("/loyalty/webhooks", data=raw, headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "invalid_signature"
    assert stored(host) == [] and ledger_points(host) == []


def test_a_tampered_body_is_refused(client, host) -> None:
    """A body changed after signing answers 401."""
    raw, headers = signed(PAID)
    response = client.post(
        "/loyalty/webhooks", data=raw.replace(b"125.00", b"925.00"), headers=headers
    )
    assert response.status_code == 401
    assert stored(host) == []


def test_a_rotated_secret_verifies_until_revoked(post, host, now) -> None:
    """With two active secrets either verifies; a revoked one no longer does."""
    from loyalty_plugin.services.merchants.secrets import create_secret, revoke_secret

    with host.app_context():
        session = host.extensions["loyalty"].db.session
        fresh = create_secret(session, merchant_id="default", now=now)
        session.commit()
        secret, old_id = fresh.secret, fresh.id - 1
    assert post(PAID, secret=secret, msg_id="msg_new").status_code == 200
    with host.app_context():
        session = host.extensions["loyalty"].db.session
        revoke_secret(session, secret_id=old_id, now=now)
        session.commit()
    assert post(PAID, msg_id="msg_old").status_code == 401


def test_a_replay_of_an_old_delivery_is_refused(client, host) -> None:
    """A captured delivery re-sent ten minutes later fails the timestamp check."""
    raw, headers = signed(PAID, timestamp=int(time.time()) - 600)
    assert client.post("/loyalty/webhooks", data=raw, headers=headers).status_code == 401


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        (b"{not json", 400, "invalid_json", None),
        (b"\xff\xfe", 400, "invalid_json", None),
        (b"[1, 2]", 422, "invalid_event", "_body"),
        (event("invoice.teleported", {}), 422, "invalid_event", "type"),
        (
            {"type": "invoice.paid", "data": {"invoice": invoice()}},
            422,
            "invalid_event",
            "occurred_at",
        ),
        (
            event("invoice.paid", {"invoice": invoice(items=[{"id": "L1", "qty": 0, "total": 5}])}),
            422,
            "invalid_event",
            "data.invoice.items.0.qty",
        ),
        (
            event("invoice.paid", {"invoice": invoice(total="12,50")}),
            422,
            "invalid_event",
            "data.invoice.total",
        ),
        (
            event("invoice.paid", {"invoice": invoice(total=True)}),
            422,
            "invalid_event",
            "data.invoice.total",
        ),
        (
            event("invoice.paid", {"invoice": invoice(currency="EURO")}),
            422,
            "invalid_event",
            "data.invoice.currency",
        ),
        (
            event("invoice.paid", {"invoice": {"id": "I", "currency": "EUR", "total": 1}}),
            422,
            "invalid_event",
            "data.invoice.customer_id",
        ),
        (
            event("invoice.refunded", {"invoice_id": "I", "refund": {"id": "R"}}),
            422,
            "invalid_event",
            "data.refund.amount",
        ),
        (
            event("customer.created", {"customer": {"id": "c9"}}),
            422,
            "invalid_event",
            "data.customer.first_name",
        ),
        (
            event("customer.birthday", {"customer_id": "c1", "date": "31/12"}),
            422,
            "invalid_event",
            "data.date",
        ),
    ],
)
def test_malformed_bodies_get_the_right_code_and_field(post, host, body, status, code, field):
    """Each malformed body is answered with its code and field path, stored as rejected."""
    response = post(body)
    assert response.status_code == status
    error = response.get_json()["error"]
    assert error["code"] == code
    if field:
        assert field in error["fields"], error
    assert [s for _, s, _ in stored(host)] == ["rejected"]
    assert ledger_points(host) == []
    again = post(body)
    assert again.status_code == status and again.get_json() == response.get_json()


def test_an_unknown_type_lists_the_known_ones(post) -> None:
    """The message for an unknown type names every type of the contract."""
    error = post(event("invoice.teleported", {})).get_json()["error"]
    assert "invoice.paid" in error["fields"]["type"][0]
    assert "event.custom" in error["fields"]["type"][0]


def test_a_body_over_the_limit_is_413_and_not_stored(client, host) -> None:
    """A body larger than LOYALTY_WEBHOOK_MAX_BYTES answers 413."""
    host.config["LOYALTY_WEBHOOK_MAX_BYTES"] = 200
    raw, headers = signed(event("event.custom", {"customer_id": "c", "name": "x" * 300}))
    response = client.post("/loyalty/webhooks", data=raw, headers=headers)
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "payload_too_large"
    assert stored(host) == []


def test_money_as_json_number_is_exact(post, host) -> None:
    """JSON numbers are read as Decimal, never float: 129.99 earns 12 points."""
    raw = (
        b'{"type": "invoice.paid", "occurred_at": "2026-01-15T12:00:00Z", "data": {"invoice": '
        b'{"id": "I9", "customer": {"id": "c1", "first_name": "Ana"}, "currency": "EUR", '
        b'"total": 129.99, "items": [{"id": "L", "qty": 1.5, "total": 129.99}]}}}'
    )
    response = post(raw)
    assert response.get_json()["result"]["points_earned"] == 12
    from sqlalchemy import select

    from loyalty_plugin.models import Invoice

    with host.app_context():
        stored_total = host.extensions["loyalty"].db.session.scalar(select(Invoice.total))
    assert stored_total == Decimal("129.99")


def test_a_refund_before_its_invoice_waits_and_then_applies(post, host) -> None:
    """202 queued for the early refund; the invoice then earns and the refund reverses."""
    refund = event(
        "invoice.refunded", {"invoice_id": "INV-1", "refund": {"id": "R1", "amount": "62.50"}}
    )
    early = post(refund, msg_id="msg_refund")
    assert early.status_code == 202
    assert early.get_json()["event_status"] == "waiting"
    paid = post(PAID, msg_id="msg_paid").get_json()
    assert paid["result"]["released"] == [early.get_json()["event_id"]]
    assert ledger_points(host) == [("earn", 50), ("earn", 12), ("reverse", -6)]
    assert post(refund, msg_id="msg_refund").get_json()["event_status"] == "processed"


def test_unknown_merchant_is_refused_as_unsigned(post, host) -> None:
    """A body naming a merchant without secrets cannot be verified: 401."""
    response = post(PAID | {"merchant_id": "elsewhere"})
    assert response.status_code == 401
