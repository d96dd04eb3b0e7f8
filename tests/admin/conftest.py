"""Fixtures of the admin pages' tests: staff members, and test clients signed in as one.

    def test_something(admin_client, staff_member):
        owner = admin_client(role="owner", merchant="shop")      # signed in, CSRF known
        answer = owner.get(owner.m("/staff"))                     # /loyalty/admin/m/shop/staff
        answer = owner.post(owner.m("/staff"), data={...})        # csrf added to the form
        clerk = staff_member(role="staff", merchant="shop")       # an account, not signed in

Browser tests use ``live_server``, ``browser`` and ``page``, the suite-wide Playwright
fixtures of ``tests/browser.py`` (one Chromium, shared with the portal's tests).
Merchants named here are made on first use (``create_merchant``, with its default program).
Everything is committed on the test's backend; the ``app`` fixture empties the tables after.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import Merchant, StaffMember, StaffRole
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.merchants.registration import create_merchant
from loyalty_plugin.services.staff import StaffPolicy
from loyalty_plugin.services.staff.accounts import add_to_merchant, create_staff, find_staff
from loyalty_plugin.services.staff.sessions import start_session
from loyalty_plugin.web.admin.access import COOKIE

ADMIN = "/loyalty/admin"
#: The password of every staff member the factory makes with ``password=True``.
PASSWORD = "correct horse battery"


@dataclass
class AdminClient:
    """A test client signed in as ``staff`` at ``merchant_id``; posts carry the CSRF value."""

    client: FlaskClient
    staff: StaffMember
    merchant_id: str
    csrf: str
    token: str

    def m(self, path: str = "/", merchant_id: str | None = None) -> str:
        """A merchant page's address: ``m("/staff")`` is ``/loyalty/admin/m/shop/staff``."""
        return f"{ADMIN}/m/{merchant_id or self.merchant_id}{path}"

    def get(self, url: str, **kwargs: Any) -> TestResponse:
        return self.client.get(url, **kwargs)

    def post(
        self,
        url: str,
        data: dict[str, Any] | None = None,
        *,
        csrf: str | None = None,
        **kwargs: Any,
    ) -> TestResponse:
        """Post a form with this session's CSRF value (or ``csrf``; ``""`` sends none)."""
        form = dict(data or {})
        value = self.csrf if csrf is None else csrf
        if value:
            form.setdefault("csrf", value)
        return self.client.post(url, data=form, **kwargs)


def ensure_merchant(merchant_id: str) -> None:
    """Make the merchant (``Shop`` for ``shop``) unless it exists; commits."""
    session = get_session()
    if session.get(Merchant, merchant_id) is None:
        create_merchant(session, merchant_id=merchant_id, name=merchant_id.title(), currency="EUR")
        session.commit()


@pytest.fixture
def staff_member(app: Flask) -> Callable[..., StaffMember]:
    """A factory of staff accounts: ``staff_member(role="manager", merchant="shop", ...)``.

    ``password=True`` gives the account :data:`PASSWORD`; a string gives that password.
    An existing ``email`` is reused and given the role at ``merchant`` too.
    """
    counter = itertools.count(1)

    def make(
        *,
        role: str | StaffRole = StaffRole.OWNER,
        merchant: str = "shop",
        email: str | None = None,
        name: str | None = None,
        password: bool | str = False,
        host_user_id: str | None = None,
    ) -> StaffMember:
        number = next(counter)
        secret = PASSWORD if password is True else (password or None)
        with app.app_context():
            ensure_merchant(merchant)
            session, now = get_session(), utcnow()
            staff = find_staff(session, email) if email else None
            if staff is None:
                staff = create_staff(
                    session,
                    email=email or f"staff{number}-{StaffRole(role).value}@example.com",
                    name=name or f"{StaffRole(role).value.title()} {number}",
                    password=secret,
                    now=now,
                )
            add_to_merchant(
                session,
                staff,
                merchant_id=merchant,
                role=StaffRole(role),
                host_user_id=host_user_id,
                now=now,
            )
            session.commit()
            return staff

    return make


@pytest.fixture
def admin_client(
    app: Flask, staff_member: Callable[..., StaffMember]
) -> Callable[..., AdminClient]:
    """A factory of signed-in test clients: ``admin_client(role="staff", merchant="shop")``.

    Each call is a new browser (its own cookies and session). ``staff=`` signs in an
    existing account instead of making one.
    """

    def make(
        *,
        role: str | StaffRole = StaffRole.OWNER,
        merchant: str = "shop",
        staff: StaffMember | None = None,
    ) -> AdminClient:
        member = staff or staff_member(role=role, merchant=merchant)
        with app.app_context():
            session = get_session()
            account = session.get(StaffMember, member.id)
            assert account is not None
            token, row = start_session(
                session,
                account,
                method="password",
                address="127.0.0.1",
                user_agent="pytest",
                policy=StaffPolicy(),
                now=utcnow(),
            )
            session.commit()
            csrf = row.csrf_secret
        client = app.test_client()
        client.set_cookie(COOKIE, token, path=ADMIN + "/")
        return AdminClient(
            client=client, staff=member, merchant_id=merchant, csrf=csrf, token=token
        )

    return make
