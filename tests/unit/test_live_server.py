"""The page tests' live server closes a response even when the browser drops the connection.

Werkzeug's development server drains what is left of the request in the ``finally`` that
then closes the response. When the browser resets the connection at that moment (a page
left while its static files load), the drain raises and the close is skipped: the open
static file then surfaced later as an unraisable ``ResourceWarning`` in an unrelated test.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable, Iterator

from tests.conftest import serving

StartResponse = Callable[[str, list[tuple[str, str]]], object]


class TrackedBody:
    """A response body that says when it is closed; it ends once the client has gone."""

    def __init__(self, client_gone: threading.Event) -> None:
        self.client_gone = client_gone
        self.closed = threading.Event()

    def __iter__(self) -> Iterator[bytes]:
        yield b"hello"
        self.client_gone.wait(timeout=5)

    def close(self) -> None:
        self.closed.set()


def reset(sock: socket.socket) -> None:
    """Close with a TCP reset, as a browser does when it abandons a load."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def test_a_response_is_closed_when_the_client_resets_the_connection() -> None:
    client_gone = threading.Event()
    body = TrackedBody(client_gone)

    def app(environ: dict[str, object], start_response: StartResponse) -> TrackedBody:
        start_response("200 OK", [("Content-Type", "text/css"), ("Content-Length", "5")])
        return body

    with serving(app) as base:  # type: ignore[arg-type]
        port = int(base.rsplit(":", 1)[1])
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(b"GET /static/admin.css HTTP/1.1\r\nHost: localhost\r\n\r\n")
        received = b""
        while b"hello" not in received:
            received += sock.recv(1024)
        reset(sock)
        client_gone.set()
        assert body.closed.wait(timeout=5), "the response was left open"
