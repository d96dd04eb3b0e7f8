"""``POST /api/v1/admin-links``: a host's one-time link into the admin pages."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from flask import Flask

from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import AdminLinkNonce, StaffMember, StaffMembership, StaffRole
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.merchants.api_keys import create_api_key
from loyalty_plugin.services.staff import StaffPolicy
from loyalty_plugin.services.staff.links import AdminLinkExpired, open_admin_link
from loyalty_plugin.web.admin.access import COOKIE
from tests.admin.conftest import ADMIN, ensure_merchant

API = "/loyalty/api/v1"
ANA = {"host_user_id": "17", "name": "Ana Lopez", "email": "Ana@Shop.example", "role": "manager"}


@pytest.fixture
def api_key(app: Flask):
    """Make an API key: ``api_key(scope="admin", merchants=("shop",))`` -> the bearer token."""

    def make(scope: str = "admin", merchants: tuple[str, ...] = ("shop",)) -> str:
        with app.app_context():
            for merchant in merchants:
                ensure_merchant(merchant)
            session = get_session()
            _, token = create_api_key(
                session, merchant_id=merchants[0], also_merchants=merchants[1:], scope=scope,
                name="host", now=utcnow(),
            )  # fmt: skip
            session.commit()
        return token

    return make


def ask(client, key: str, body: dict, **headers: str):
    return client.post(
        f"{API}/admin-links", json=body, headers={"Authorization": f"Bearer {key}", **headers}
    )


def path_of(url: str) -> str:
    return urlsplit(url).path


def test_a_link_signs_the_hosts_user_in_once(app: Flask, api_key) -> None:
    """The link makes the account and membership, signs in, and is refused a second time."""
    key = api_key()
    answer = ask(app.test_client(), key, ANA)
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["merchant_id"] == "shop" and body["role"] == "manager"
    assert body["email"] == "ana@shop.example" and "/loyalty/admin/link/" in body["url"]
    browser = app.test_client()
    opened = browser.get(path_of(body["url"]))
    assert opened.status_code == 303
    assert opened.headers["Location"] == f"{ADMIN}/m/shop/"
    assert "HttpOnly" in opened.headers["Set-Cookie"]
    assert browser.get(f"{ADMIN}/").status_code == 200
    with app.app_context():
        session = get_session()
        staff = session.query(StaffMember).filter_by(email="ana@shop.example").one()
        membership = session.query(StaffMembership).filter_by(staff_id=staff.id).one()
        assert (membership.role, membership.host_user_id) == (StaffRole.MANAGER, "17")
        assert staff.password_hash is None
    again = app.test_client().get(path_of(body["url"]))
    assert again.status_code == 410
    assert "This link was already used" in again.get_data(as_text=True)
    assert again.headers.get("Set-Cookie") is None


def test_a_later_link_sets_the_role_the_host_gives(app: Flask, api_key) -> None:
    """The host is the authority on its user's role: each opened link sets it."""
    key, client = api_key(), app.test_client()
    for role in ("manager", "owner"):
        url = ask(client, key, ANA | {"role": role}).get_json()["url"]
        assert app.test_client().get(path_of(url)).status_code == 303
    with app.app_context():
        roles = [m.role for m in get_session().query(StaffMembership).all()]
    assert roles == [StaffRole.OWNER]


def test_only_admin_keys_may_ask_and_bodies_are_checked(app: Flask, api_key) -> None:
    """A write key is refused (403); a bad role or address is a 422 naming the field."""
    client = app.test_client()
    assert ask(client, api_key(scope="write"), ANA).status_code == 403
    key = api_key()
    bad_role = ask(client, key, ANA | {"role": "god"})
    assert bad_role.status_code == 422 and "role" in bad_role.get_json()["error"]["fields"]
    bad_email = ask(client, key, ANA | {"email": "nobody"})
    assert bad_email.status_code == 422 and "email" in bad_email.get_json()["error"]["fields"]
    unknown = ask(client, key, ANA | {"merchant_id": "elsewhere"})
    assert unknown.status_code == 404


def test_a_host_cannot_sign_in_another_merchants_staff(app: Flask, api_key, staff_member):
    """An account that also works for a merchant the key does not cover is refused (409)."""
    staff_member(merchant="rival", email="boss@rival.example", role="owner")
    key = api_key(merchants=("shop",))
    answer = ask(app.test_client(), key, ANA | {"email": "boss@rival.example"})
    assert answer.status_code == 409


def test_damaged_and_expired_links_are_refused(app: Flask, api_key) -> None:
    """A forged link is 404; an expired one 410; neither signs anyone in."""
    client = app.test_client()
    assert client.get(f"{ADMIN}/link/not-a-token").status_code == 404
    url = ask(client, api_key(), ANA | {"valid_seconds": 10}).get_json()["url"]
    token = path_of(url).rsplit("/", 1)[1]
    with app.app_context(), pytest.raises(AdminLinkExpired):
        open_admin_link(
            get_session(), secret="test-secret-key", token=token, address=None,
            user_agent=None, policy=StaffPolicy(), now=utcnow() + timedelta(seconds=11),
        )  # fmt: skip
    with app.app_context():
        assert get_session().query(AdminLinkNonce).count() == 0
    assert client.get_cookie(COOKIE, path=ADMIN + "/") is None


def test_the_route_is_in_the_openapi_document(app: Flask) -> None:
    """The API's OpenAPI document describes POST /admin-links with its body."""
    document = app.test_client().get(f"{API}/openapi.json").get_json()
    operation = document["paths"]["/loyalty/api/v1/admin-links"]["post"]
    assert "requestBody" in operation and "200" in operation["responses"]
