"""hooks/python/loyalty_sender.py answers every failure with a status and a message."""

from __future__ import annotations

import importlib.util
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType

import pytest

SENDER = Path(__file__).resolve().parents[2] / "hooks" / "python" / "loyalty_sender.py"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
EVENT = {"type": "customer.created", "occurred_at": "2026-03-01T10:00:00Z", "data": {}}


@pytest.fixture(scope="module")
def sender() -> ModuleType:
    spec = importlib.util.spec_from_file_location("loyalty_sender_under_test", SENDER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _HtmlNotFound(BaseHTTPRequestHandler):
    """A web server that is not ours: an HTML 404 page, or an HTML 200 at /ok."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["content-length"]))
        status = 200 if self.path == "/ok" else 404
        self.send_response(status)
        self.send_header("content-type", "text/html")
        self.end_headers()
        self.wfile.write(b"<html><body><h1>Not Found</h1></body></html>")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def html_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HtmlNotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_html_404_is_a_status_and_a_message(sender, html_server) -> None:
    status, answer = sender.send_event(html_server + "/wrong/path", SECRET, EVENT)
    assert status == 404
    assert answer["error"]["code"] == "not_json"
    assert "HTTP 404" in answer["error"]["message"]


def test_an_html_200_is_not_taken_for_an_answer(sender, html_server) -> None:
    status, answer = sender.send_event(html_server + "/ok", SECRET, EVENT)
    assert (status, answer["error"]["code"]) == (200, "not_json")


def test_a_service_that_is_down_is_status_0(sender) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/loyalty/webhooks"
    status, answer = sender.send_event(url, SECRET, EVENT, timeout=2)
    assert status == 0
    assert answer["error"]["code"] == "unreachable"
    assert url in answer["error"]["message"]


def test_a_secret_that_is_not_base64_is_status_0(sender, html_server) -> None:
    status, answer = sender.send_event(html_server, "whsec_not base64!", EVENT)
    assert (status, answer["error"]["code"]) == (0, "invalid_secret")


class _Echo(BaseHTTPRequestHandler):
    """Answers 200 with the JSON body it received, as the service would read it."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"received": ' + body + b"}")

    def log_message(self, *args: object) -> None:
        pass


def test_decimal_and_date_values_are_sent_as_json_strings(sender) -> None:
    """A Python host's money is ``Decimal`` and its dates ``date``: sent as exact strings,
    as ``loyalty_plugin.host.process_event`` accepts them, instead of a ``TypeError``."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    invoice = {"id": "1001", "total": Decimal("129.90"), "date": date(2026, 3, 1)}
    event = EVENT | {"occurred_at": datetime(2026, 3, 1, 10, tzinfo=UTC), "data": invoice}
    try:
        status, answer = sender.send_event(
            f"http://127.0.0.1:{server.server_address[1]}", SECRET, event
        )
    finally:
        server.shutdown()
        server.server_close()
    assert status == 200
    assert answer["received"]["data"] == {"id": "1001", "total": "129.90", "date": "2026-03-01"}
    assert answer["received"]["occurred_at"] == "2026-03-01T10:00:00+00:00"
