"""A database that cannot be reached: 503 with Retry-After, quickly, in the error shape.

The database here is a real listening socket that never answers (a server hung or behind
a dropped route), or a closed port (a server that is down). The full outage, a real
PostgreSQL stopped and started under load, is in ``tests/outage/``.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest
from flask import Flask

from loyalty_plugin import create_app
from loyalty_plugin.domain.signatures import signature_headers

SCHEMES = {
    "postgresql": "postgresql+psycopg://nobody@127.0.0.1:{port}/none",
    "mariadb": "mysql+pymysql://nobody@127.0.0.1:{port}/none",
}
TIMEOUT = 2  # PostgreSQL's smallest connect timeout
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections (the kernel does) and never says a word."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield listener.getsockname()[1]


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on: connecting is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def app_on(url: str, tmp_path) -> Flask:
    return create_app(
        {
            "LOYALTY_DATABASE_URL": url,
            "LOYALTY_SECRET_KEY": "x",
            "LOYALTY_INSTANCE_PATH": str(tmp_path),
            "LOYALTY_DATABASE_TIMEOUT_SECONDS": TIMEOUT,
        }
    )


def signed_webhook() -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"type": "customer.created", "data": {"customer": {"id": "c1"}}}).encode()
    headers = signature_headers([SECRET], msg_id="m-1", timestamp=int(time.time()), body=body)
    return body, headers | {"Content-Type": "application/json"}


def assert_unavailable(response, started: float) -> None:
    assert time.monotonic() - started < TIMEOUT + 3, "waited past the connect timeout"
    assert response.status_code == 503
    assert response.headers["Retry-After"].isdigit()
    assert response.json["error"]["code"] == "database_unavailable"
    assert "Traceback" not in response.text and "psycopg" not in response.text


def test_a_silent_database_gives_503_within_the_connect_timeout(silent_port, tmp_path) -> None:
    """Health, a signed webhook and an API write each answer 503 after the timeout, not later.

    PostgreSQL only: PyMySQL applies its connect timeout to the TCP connection alone, not to
    the server's greeting (docs/operations.md says so).
    """
    url = SCHEMES["postgresql"].format(port=silent_port)
    client = app_on(url, tmp_path).test_client()
    started = time.monotonic()
    health = client.get("/loyalty/health")
    assert time.monotonic() - started < TIMEOUT + 3
    assert health.status_code == 503 and health.headers["Retry-After"].isdigit()
    assert health.json == {"status": "unavailable", "database": "unreachable"}

    body, headers = signed_webhook()
    started = time.monotonic()
    assert_unavailable(client.post("/loyalty/webhooks", data=body, headers=headers), started)

    started = time.monotonic()
    write = client.post(
        "/loyalty/api/v1/adjustments",
        json={"customer_id": "c1", "points": 10, "reason": "goodwill"},
        headers={"Authorization": "Bearer lk_abcd1234_" + "x" * 43, "Idempotency-Key": "k1"},
    )
    assert_unavailable(write, started)


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_a_stopped_database_gives_503_at_once(scheme, closed_port, tmp_path) -> None:
    """A refused connection answers 503 database_unavailable without waiting at all."""
    client = app_on(SCHEMES[scheme].format(port=closed_port), tmp_path).test_client()
    body, headers = signed_webhook()
    started = time.monotonic()
    response = client.post("/loyalty/webhooks", data=body, headers=headers)
    assert_unavailable(response, started)
    assert time.monotonic() - started < 1


def test_the_timeout_reaches_the_driver() -> None:
    """LOYALTY_DATABASE_TIMEOUT_SECONDS becomes the driver's connect timeout."""
    from loyalty_plugin.database import engine_options

    for url in SCHEMES.values():
        options = engine_options(url.format(port=5432), timeout=7)
        assert options["connect_args"] == {"connect_timeout": 7}
        assert options["pool_pre_ping"] is True
    assert engine_options("sqlite:///x.sqlite3", timeout=7) == {}


def test_the_portal_shows_a_try_again_page_when_the_database_is_down(closed_port, tmp_path) -> None:
    """A signed-in customer gets a 503 page with Retry-After, not the 500 page."""
    from datetime import timedelta

    from loyalty_plugin.models.base import utcnow
    from loyalty_plugin.services.customers.portal import make_token

    client = app_on(SCHEMES["postgresql"].format(port=closed_port), tmp_path).test_client()
    token = make_token(
        "x", merchant_id="m", customer_id=1, expires_at=utcnow() + timedelta(hours=1)
    )
    client.set_cookie("loyalty_portal", token)
    response = client.get("/loyalty/portal")
    assert response.status_code == 503
    assert response.headers["Retry-After"].isdigit()
    assert "Please try again in a moment" in response.text
    assert "Traceback" not in response.text
