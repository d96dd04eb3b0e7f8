"""``POST /customers/{id}/portal-link`` and the portal's pages through the test client."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from loyalty_plugin.models import Customer, Merchant
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.customers import portal
from loyalty_plugin.services.merchants.api_keys import create_api_key

API = "/loyalty/api/v1"


@pytest.fixture
def keys(app: Flask, session: Session) -> dict[str, str]:
    """Merchant ``shop`` with customer 42, and a key of each scope."""
    session.add(Merchant(id="shop", name="Shop", currency="EUR"))
    session.flush()
    session.add(Customer(merchant_id="shop", host_customer_id="42", first_name="Ana"))
    made = {}
    for scope in ("read", "write"):
        _row, made[scope] = create_api_key(
            session, merchant_id="shop", scope=scope, name=scope, now=utcnow()
        )
    session.commit()
    return made


def mint(client: Any, key: str, customer: str = "42", **body: Any) -> Any:
    return client.post(
        f"{API}/customers/{customer}/portal-link",
        json=body,
        headers={"Authorization": f"Bearer {key}"},
    )


def test_a_host_mints_a_link_that_opens_the_portal(client: Any, keys: dict[str, str]) -> None:
    """The answer's URL opens the customer's portal until the expiry it gives."""
    before = utcnow()
    answer = mint(client, keys["write"], valid_minutes=15)
    assert answer.status_code == 200, answer.json
    expires_at = datetime.fromisoformat(answer.json["expires_at"])
    assert before + timedelta(minutes=14) < expires_at <= utcnow() + timedelta(minutes=15)
    assert answer.json["customer_id"] == "42"
    path = answer.json["url"].split("127.0.0.1", 1)[-1].split("localhost:8000", 1)[-1]
    opened = client.get(path)
    assert opened.status_code == 303 and opened.headers["Location"].endswith("/loyalty/portal")
    page = client.get("/loyalty/portal")
    assert page.status_code == 200 and b"Hello, Ana" in page.data


def test_links_last_at_most_the_configured_days(
    app: Flask, client: Any, keys: dict[str, str]
) -> None:
    """Without ``valid_minutes`` (or with more) a link lasts LOYALTY_PORTAL_LINK_DAYS."""
    app.config["LOYALTY_PORTAL_LINK_DAYS"] = 2
    for body in ({}, {"valid_minutes": 10**6}):
        expires_at = datetime.fromisoformat(mint(client, keys["write"], **body).json["expires_at"])
        assert abs(expires_at - (utcnow() + timedelta(days=2))) < timedelta(minutes=1)


def test_minting_needs_write_scope_and_a_known_customer(client: Any, keys: dict[str, str]) -> None:
    """A read key may not mint (the portal can spend points); an unknown customer is 404."""
    assert mint(client, keys["read"]).status_code == 403
    missing = mint(client, keys["write"], customer="nobody")
    assert missing.status_code == 404 and missing.json["error"]["code"] == "not_found"
    assert mint(client, keys["write"], valid_minutes=0).status_code == 422


def test_the_endpoint_is_in_the_openapi_document(client: Any) -> None:
    """Hosts find the endpoint in the OpenAPI document."""
    paths = client.get(f"{API}/openapi.json").json["paths"]
    assert "post" in paths[f"{API}/customers/{{customer_id}}/portal-link"]


def test_pages_without_a_valid_cookie_are_friendly(
    app: Flask, client: Any, keys: dict[str, str]
) -> None:
    """No cookie, a forged link, an expired link: an HTML page with the right status."""
    secret = app.config["LOYALTY_SECRET_KEY"]
    expired = portal.make_token(
        secret, merchant_id="shop", customer_id=1, expires_at=utcnow() - timedelta(seconds=1)
    )
    for path, status, words in (
        ("/loyalty/portal", 403, b"open your points page from a link"),
        ("/loyalty/portal/link/forged.token", 404, b"This link does not work"),
        (f"/loyalty/portal/link/{expired}", 410, b"This link has expired"),
    ):
        answer = client.get(path)
        assert answer.status_code == status
        assert answer.mimetype == "text/html" and words in answer.data
        assert b"Traceback" not in answer.data
        assert answer.headers["Cache-Control"] == "no-store"


def test_a_post_without_the_forms_csrf_is_refused(
    app: Flask, client: Any, keys: dict[str, str]
) -> None:
    """Another site cannot post the form: without our signed pair nothing is spent."""
    url = mint(client, keys["write"]).json["url"]
    client.get("/loyalty/portal/link/" + url.rsplit("/", 1)[1])
    answer = client.post("/loyalty/portal/coupons", data={"points": "100", "form_key": "x"})
    assert answer.status_code == 400 and b"Please try again" in answer.data


@pytest.mark.parametrize(("public_url", "secure"), [("https://crm.example.com", True), ("", False)])
def test_the_cookie_is_secure_when_the_public_url_is_https(
    app: Flask, client: Any, keys: dict[str, str], public_url: str, secure: bool
) -> None:
    """Behind a proxy that ends TLS the request is plain http; the public URL decides."""
    app.config["LOYALTY_PUBLIC_URL"] = public_url
    url = mint(client, keys["write"]).json["url"]
    opened = client.get("/loyalty/portal/link/" + url.rsplit("/", 1)[1])
    assert ("Secure" in opened.headers["Set-Cookie"]) is secure


def test_error_pages_name_the_shop_and_the_trailing_slash_is_the_overview(
    app: Flask, client: Any, keys: dict[str, str]
) -> None:
    """#17: an expired link, a missing page and ``/portal/`` as a customer of Shop sees them."""
    secret = app.config["LOYALTY_SECRET_KEY"]
    expired = portal.make_token(
        secret, merchant_id="shop", customer_id=1, expires_at=utcnow() - timedelta(seconds=1)
    )
    answer = client.get(f"/loyalty/portal/link/{expired}")
    assert answer.status_code == 410 and b'data-testid="shop">Shop <' in answer.data
    assert b"<title>Shop \xc2\xb7 Rewards</title>" in answer.data
    forged = client.get("/loyalty/portal/link/forged.token")
    assert forged.status_code == 404 and b'data-testid="shop"' not in forged.data
    slash = client.get("/loyalty/portal/")
    assert (slash.status_code, slash.headers["Location"]) == (301, "/loyalty/portal")
    url = mint(client, keys["write"]).json["url"]
    client.get("/loyalty/portal/link/" + url.rsplit("/", 1)[1])
    missing = client.get("/loyalty/portal/nothing-here")
    assert missing.status_code == 404 and missing.mimetype == "text/html"
    assert b'data-testid="shop">Shop <' in missing.data
    with client.get("/loyalty/portal/static/favicon.svg") as icon:
        assert icon.status_code == 200 and icon.mimetype == "image/svg+xml"
    assert b"favicon.svg" in client.get("/loyalty/portal").data
