"""The portal inside the host's own pages: only the origins the merchant lists may frame it.

Headers through the test client on every database; the framing itself in Chromium, with
the host's page served on loopback under another site's name (``localhost`` frames the
portal at ``127.0.0.1``), once from a listed origin and once from one that is not.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from loyalty_plugin.models import Account, Customer, Merchant
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.customers import portal
from loyalty_plugin.services.merchants.api_keys import create_api_key
from loyalty_plugin.services.spending.settings import update_settings
from tests.browser import LiveServer

API = "/loyalty/api/v1"
BROWSER_BACKENDS = pytest.mark.backends("sqlite", "postgresql")


@pytest.fixture
def ana(session: Session) -> Account:
    session.add(Merchant(id="shop", name="Café Lumière", currency="EUR"))
    session.flush()
    customer = Customer(merchant_id="shop", host_customer_id="42", first_name="Ana")
    session.add(customer)
    session.flush()
    account = Account(merchant_id="shop", customer_id=customer.id)
    session.add(account)
    session.commit()
    return account


def allow(session: Session, *origins: str) -> None:
    changes = {"portal_frame_ancestors": list(origins)}
    update_settings(session, merchant_id="shop", changes=changes, now=utcnow(), actor="t")
    session.commit()


def link(app: Flask, account: Account, base: str = "", **valid: Any) -> str:
    token = portal.make_token(
        app.config["LOYALTY_SECRET_KEY"],
        merchant_id="shop",
        customer_id=account.customer_id,
        expires_at=utcnow() + timedelta(**(valid or {"days": 1})),
    )
    return f"{base}/loyalty/portal/link/{token}"


def frame_ancestors(answer: Any) -> str:
    policy = answer.headers["Content-Security-Policy"]
    return next(p.strip() for p in policy.split(";") if "frame-ancestors" in p)


def test_without_the_setting_no_page_may_frame_the_portal(
    app: Flask, client: Any, ana: Account
) -> None:
    """``frame-ancestors 'none'`` and ``X-Frame-Options: DENY``; the cookie stays Lax."""
    opened = client.get(link(app, ana))
    cookie = opened.headers["Set-Cookie"]
    assert "SameSite=Lax" in cookie and "Secure" not in cookie
    page = client.get("/loyalty/portal")
    assert page.status_code == 200
    assert frame_ancestors(page) == "frame-ancestors 'none'"
    assert page.headers["X-Frame-Options"] == "DENY"


def test_the_listed_origins_and_only_they_may_frame_it(
    app: Flask, client: Any, session: Session, ana: Account
) -> None:
    """Every page (and the expired-link page) names exactly the listed origins; the cookie
    is ``SameSite=None; Secure`` so the framed portal keeps its session."""
    allow(session, "https://crm.shop.example", "http://localhost:8080")
    opened = client.get(link(app, ana))
    cookie = opened.headers["Set-Cookie"]
    assert "SameSite=None" in cookie and "Secure" in cookie and "HttpOnly" in cookie
    assert "Partitioned" in cookie
    expected = "frame-ancestors https://crm.shop.example http://localhost:8080"
    for path in ("/loyalty/portal", "/loyalty/portal/points", "/loyalty/portal/coupons"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert frame_ancestors(page) == expected, path
        assert "X-Frame-Options" not in page.headers, path
    expired = app.test_client().get(link(app, ana, seconds=-5))
    assert expired.status_code == 410 and frame_ancestors(expired) == expected
    forged = app.test_client().get("/loyalty/portal/link/forged")
    assert frame_ancestors(forged) == "frame-ancestors 'none'"


def test_the_api_sets_checks_and_clears_the_origins(
    app: Flask, client: Any, session: Session, ana: Account
) -> None:
    """``PATCH /settings`` normalises the origins, refuses a bad one at its field, and an
    empty list makes the portal refuse frames again."""
    _row, key = create_api_key(session, merchant_id="shop", scope="admin", name="a", now=utcnow())
    session.commit()
    auth = {"Authorization": f"Bearer {key}"}

    def patch(value: Any) -> Any:
        return client.patch(f"{API}/settings", json={"portal_frame_ancestors": value}, headers=auth)

    saved = patch(["https://CRM.shop.example/"])
    assert saved.status_code == 200, saved.json
    assert saved.json["portal_frame_ancestors"] == ["https://crm.shop.example"]
    for bad in (["http://crm.shop.example"], ["https://crm.shop.example/portal"], ["*"],
                ["https://a.example; script-src *"], "https://crm.shop.example"):  # fmt: skip
        refused = patch(bad)
        assert refused.status_code == 422, bad
        assert "portal_frame_ancestors" in refused.json["error"]["fields"], bad
    read = client.get(f"{API}/settings", headers=auth).json
    assert read["portal_frame_ancestors"] == ["https://crm.shop.example"]
    assert patch([]).status_code == 200
    portal_client = app.test_client()
    portal_client.get(link(app, ana))
    assert frame_ancestors(portal_client.get("/loyalty/portal")) == "frame-ancestors 'none'"


# -- in Chromium ---------------------------------------------------------------------------


@contextmanager
def host_page(portal_url: str) -> Iterator[str]:
    """A host's customer area on a loopback port that shows ``portal_url`` in a frame;
    yields its address under the name ``localhost`` (another site than ``127.0.0.1``)."""
    body = (
        "<!DOCTYPE html><html lang='en'><title>My account</title><h1>My account</h1>"
        f"<iframe title='My points' src='{portal_url}' width='900' height='600'></iframe>"
    ).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}/account"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@BROWSER_BACKENDS
def test_a_framed_portal_loads_from_a_listed_origin_and_is_refused_elsewhere(
    app: Flask, live_server: LiveServer, page: Page, session: Session, ana: Account
) -> None:
    """The host listed in the setting shows the customer's portal, signed in, inside its
    page; another origin on the same machine gets the browser's refusal, and no portal."""
    with (
        host_page(link(app, ana, live_server.base)) as listed,
        host_page(link(app, ana, live_server.base)) as other,
    ):
        allow(session, listed.rsplit("/", 1)[0])
        refusals: list[str] = []
        page.on("console", lambda m: refusals.append(m.text) if "frame" in m.text else None)

        page.goto(listed)
        framed = page.frame_locator("iframe")
        expect(framed.get_by_role("heading", level=1)).to_have_text("Hello, Ana")
        framed.get_by_role("link", name="Points history").click()
        expect(framed.get_by_role("heading", level=1)).to_have_text("Points history")
        assert refusals == []

        page.goto(other)
        expect(page.get_by_role("heading", level=1)).to_have_text("My account")
        for _ in range(50):  # the console reports the refusal once the frame's answer came
            if any("frame-ancestors" in text for text in refusals):
                break
            page.wait_for_timeout(100)
        assert any("frame-ancestors" in text for text in refusals), refusals
        assert "Hello, Ana" not in page.frames[1].content()
