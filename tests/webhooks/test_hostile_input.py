"""Hostile or odd bodies sent to ``/webhooks``: a clear 4xx, never a 500 (#12)."""

from __future__ import annotations

import pytest

from loyalty_plugin.domain.signatures import new_secret
from loyalty_plugin.models import Merchant
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.merchants.secrets import create_secret
from tests.webhooks.conftest import (
    SECRET,
    customer,
    event,
    invoice,
    ledger_points,
    signed,
    stored,
)

DEEP = b"[" * 5000 + b"]" * 5000


def test_deeply_nested_json_without_headers_is_refused(client, host) -> None:
    """An unsigned, deeply nested body is refused without a crash, and nothing is stored."""
    answer = client.post("/loyalty/webhooks", data=DEEP, content_type="application/json")
    assert answer.status_code == 401, answer.json
    assert stored(host) == []


def test_deeply_nested_json_signed_is_400_with_a_message(post, host) -> None:
    """A signed body nested too deeply is stored as rejected: 400 with the reason."""
    answer = post(b'{"a": ' + DEEP + b"}")
    assert answer.status_code == 400, answer.json
    assert answer.json["error"]["code"] == "invalid_json"
    assert "levels deep" in answer.json["error"]["message"]
    assert [status for _, status, _ in stored(host)] == ["rejected"]


def _paid(**fields: object) -> dict:
    return event("invoice.paid", {"invoice": invoice(customer=customer(), **fields)})


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            _paid(currency="USD", exchange_rate="999999999999", total="9999999.00"),
            "data.invoice.exchange_rate",
        ),
        (_paid(number="INV \ud800"), "data.invoice.number"),
        (_paid() | {"occurred_at": "9999-12-31T23:59:59-14:00"}, "occurred_at"),
    ],
)
def test_permanently_invalid_events_are_422_at_intake(post, host, body, field) -> None:
    """An event that can never be processed is refused at once with its field, and stored as
    rejected, never as a retry (#12.11)."""
    answer = post(body)
    assert answer.status_code == 422, answer.json
    assert answer.json["error"]["code"] == "invalid_event"
    assert field in answer.json["error"]["fields"], answer.json
    assert [status for _, status, _ in stored(host)] == ["rejected"]
    assert ledger_points(host) == []


def test_a_missing_exchange_rate_is_an_invalid_event(post, host) -> None:
    """An invoice in another currency with no rate known: 422 ``invalid_event`` on
    ``data.invoice.exchange_rate``, like every other webhook error (#13 item 10)."""
    answer = post(_paid(currency="USD"))
    assert answer.status_code == 422, answer.json
    error = answer.json["error"]
    assert error["code"] == "invalid_event"
    assert "data.invoice.exchange_rate" in error["fields"], error


def _add_merchant(app, merchant_id: str, *, secret: str | None) -> None:
    with app.app_context():
        session = app.extensions["loyalty"].db.session
        session.add(Merchant(id=merchant_id, name=merchant_id, currency="EUR"))
        session.flush()
        if secret is not None:
            create_secret(session, merchant_id=merchant_id, now=utcnow(), secret=secret)
        session.commit()


def test_a_body_naming_no_merchant_is_checked_under_the_default_merchant_only(client, host) -> None:
    """Not JSON, so no merchant named: only the default merchant's secrets are tried; a body
    another merchant signed is refused, and nothing is stored (#12.12)."""
    other = new_secret()
    _add_merchant(host, "seller", secret=other)
    raw, headers = signed(b"not json at all", secret=other)
    answer = client.post("/loyalty/webhooks", data=raw, headers=headers)
    assert answer.status_code == 401, answer.json
    assert "default merchant 'default' was assumed" in answer.json["error"]["message"]
    assert stored(host) == []


@pytest.mark.parametrize("merchant_id", [True, ["seller"], {"id": "x"}, ""])
def test_an_unreadable_merchant_id_is_refused_before_any_signature_check(
    client, host, merchant_id
) -> None:
    """A ``merchant_id`` that is not a string or an integer: 422 on ``merchant_id``."""
    raw, headers = signed(_paid() | {"merchant_id": merchant_id})
    answer = client.post("/loyalty/webhooks", data=raw, headers=headers)
    assert answer.status_code == 422, answer.json
    assert "merchant_id" in answer.json["error"]["fields"]
    assert stored(host) == []


def test_missing_headers_are_refused_before_the_body_is_read(client, host) -> None:
    """No signature headers: 401 naming the first header missing."""
    answer = client.post("/loyalty/webhooks", data=b"{}", content_type="application/json")
    assert answer.status_code == 401
    assert answer.json["error"]["fields"] == {"webhook-id": ["missing header webhook-id"]}


def test_an_unknown_default_merchant_is_named(client) -> None:
    """No ``merchant_id`` and no ``default`` merchant: the answer says so and asks for
    merchant_id, instead of "no signature matches" (#13 item 2)."""
    raw, headers = signed(_paid())
    error = client.post("/loyalty/webhooks", data=raw, headers=headers).json["error"]
    assert error["code"] == "invalid_signature"
    assert error["message"].startswith("merchant 'default' does not exist")
    assert "send merchant_id" in error["message"]
    assert list(error["fields"]) == ["merchant_id"]


def test_a_merchant_without_an_active_secret_is_named(post, host) -> None:
    """A merchant whose secrets are all revoked: the answer says how to make one."""
    _add_merchant(host, "quiet", secret=None)
    error = post(_paid() | {"merchant_id": "quiet"}).json["error"]
    assert "'quiet' has no active signing secret" in error["message"]
    assert "loyalty secrets create --merchant quiet" in error["message"]
    assert SECRET not in str(error)


def test_a_wrong_signature_is_named_as_such(post, host) -> None:
    """Signed with a secret the merchant does not have: the signature did not match."""
    error = post(_paid(), secret=new_secret()).json["error"]
    assert error["message"].startswith("no signature matches an active secret of merchant")
    assert list(error["fields"]) == ["webhook-signature"]


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_a_webhook_not_sent_as_json_is_415(client, host, content_type) -> None:
    """A signed body without ``Content-Type: application/json``: 415 saying what to send."""
    raw, headers = signed(_paid())
    del headers["content-type"]
    if content_type:
        headers["content-type"] = content_type
    answer = client.post("/loyalty/webhooks", data=raw, headers=headers)
    assert answer.status_code == 415, answer.json
    assert "Content-Type: application/json" in answer.json["error"]["message"]
    assert stored(host) == []


@pytest.mark.parametrize(
    ("money", "currency"),
    [("1_000", "EUR"), ("\u0661\u0660\u0660", "EUR"), ("1e3", "EUR"), ("100", "XXX"),
     ("100", "XTS"), ("100", "XAU")],
)  # fmt: skip
def test_odd_money_and_non_currencies_are_invalid_events(post, host, money, currency) -> None:
    """``"1_000"``, Arabic-Indic digits and exponents are not amounts; ``XXX`` (no currency),
    ``XTS`` (testing) and ``XAU`` (gold) are not currencies (#12.13)."""
    answer = post(_paid(total=money, currency=currency))
    assert answer.status_code == 422, answer.json
    field = "data.invoice.currency" if currency != "EUR" else "data.invoice.total"
    assert field in answer.json["error"]["fields"], answer.json


def test_a_non_ascii_webhook_id_is_refused_with_a_clear_message(client, host) -> None:
    """An id sent as UTF-8 arrives as Latin-1 and could never match its signature: the
    answer says the id must be ASCII (#12.13)."""
    raw, headers = signed(_paid())
    headers["webhook-id"] = "évènement".encode().decode("latin-1")
    answer = client.post("/loyalty/webhooks", data=raw, headers=headers)
    assert answer.status_code == 401
    assert "webhook-id must be ASCII" in answer.json["error"]["message"]
    assert list(answer.json["error"]["fields"]) == ["webhook-id"]
