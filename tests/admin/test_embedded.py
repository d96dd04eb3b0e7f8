"""Mounted in a host app, the admin pages keep their own session: not the host's."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask, session

from loyalty_plugin import LoyaltyPlugin
from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import StaffRole
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.merchants.registration import create_merchant
from loyalty_plugin.services.staff import StaffPolicy
from loyalty_plugin.services.staff.accounts import add_to_merchant, create_staff
from loyalty_plugin.services.staff.sessions import start_session
from loyalty_plugin.web.admin.access import COOKIE
from tests.conftest import wipe


def test_the_admin_session_survives_the_hosts_key_and_session(
    database_url: str, engine: sa.Engine
) -> None:
    """A host that rotates its SECRET_KEY or clears its session does not sign staff out."""
    host = Flask("host")
    host.config.update(
        LOYALTY_DATABASE_URL=database_url, LOYALTY_SECRET_KEY="plugin key", SECRET_KEY="host 1"
    )

    @host.get("/")
    def home() -> str:
        session["host"] = "state"
        return "host home"

    LoyaltyPlugin(host, url_prefix="/rewards")
    with host.app_context():
        db, now = get_session(), utcnow()
        create_merchant(db, merchant_id="shop", name="Shop", currency="EUR", now=now)
        staff = create_staff(db, email="ana@shop.example", name="Ana", now=now)
        add_to_merchant(db, staff, merchant_id="shop", role=StaffRole.OWNER, now=now)
        token, _ = start_session(
            db, staff, method="password", address=None, user_agent=None,
            policy=StaffPolicy(), now=now,
        )  # fmt: skip
        db.commit()
    client = host.test_client()
    client.set_cookie(COOKIE, token, path="/rewards/admin/")
    assert client.get("/").text == "host home"
    page = client.get("/rewards/admin/m/shop/staff")
    assert page.status_code == 200 and "ana@shop.example" in page.text
    assert not any(c.startswith("session=") for c in page.headers.getlist("Set-Cookie"))
    host.secret_key = "host 2, rotated"
    client.delete_cookie("session")
    assert client.get("/rewards/admin/m/shop/staff").status_code == 200
    with host.app_context():
        host.extensions["loyalty"].db.engine.dispose()
    wipe(engine)
