"""Admin error pages: in the admin look, with the right status, never a stack trace."""

from __future__ import annotations

import socket
from pathlib import Path

from flask import Flask

from loyalty_plugin import create_app
from loyalty_plugin.web.admin import access, formats
from loyalty_plugin.web.admin.access import COOKIE
from tests.admin.conftest import ADMIN


def test_an_unexpected_error_is_a_500_page_without_a_trace(app: Flask) -> None:
    """An error of ours is logged and answered with a plain 500 page."""
    with app.test_request_context(f"{ADMIN}/"):
        body, status = access.unexpected(RuntimeError("secret internals"))
    assert status == 500
    assert "Something went wrong on our side" in body
    assert "secret internals" not in body and "Traceback" not in body


def test_a_role_too_low_is_a_403_page(app: Flask, admin_client) -> None:
    """A manager on an owner's page gets the admin look's 403 page."""
    manager = admin_client(role="manager")
    answer = manager.get(manager.m("/staff"))
    assert answer.status_code == 403
    assert "You may not open this page" in answer.get_data(as_text=True)
    assert answer.headers["Cache-Control"] == "no-store"


def test_the_database_being_down_is_a_503_page(tmp_path: Path) -> None:
    """Signed-in pages answer 503 with Retry-After while the database cannot be reached."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    down = create_app(
        {
            "LOYALTY_DATABASE_URL": f"postgresql+psycopg://nobody@127.0.0.1:{closed}/none",
            "LOYALTY_SECRET_KEY": "x",
            "LOYALTY_INSTANCE_PATH": str(tmp_path),
        }
    )
    client = down.test_client()
    client.set_cookie(COOKIE, "some-session-token", path=ADMIN + "/")
    answer = client.get(f"{ADMIN}/")
    assert answer.status_code == 503
    assert answer.headers["Retry-After"]
    assert "Please try again in a moment" in answer.get_data(as_text=True)
    assert down.test_client().get(f"{ADMIN}/sign-in").status_code == 200  # no database needed


def test_my_sessions_names_browsers_in_words() -> None:
    """A User-Agent is shown as "Chrome on Linux", not as its raw text."""
    chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"
    iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Version/17.0 Safari/604.1"
    assert formats.browser(chrome) == "Chrome on Linux"
    assert formats.browser(iphone) == "Safari on iPhone"
    assert formats.browser(None) == "Unknown browser"
