"""Shared by the merge and transfer page tests: customers with points, a signed-in browser."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from urllib.parse import urlsplit

from flask import Flask
from playwright.sync_api import Browser, Page

from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import Customer
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.ledger.accounts import open_account
from loyalty_plugin.web.admin.access import COOKIE
from tests.admin.conftest import ADMIN, ensure_merchant

#: Two records of one person, and a friend: (host id, first name, last name, e-mail, lots).
PEOPLE = (
    ("1042", "Ana", "Horvat", "ana@example.com", ((300, 20), (1200, 300))),
    ("2077", "Ana", "Horvat", "ana.h@example.com", ((150, 60),)),
    ("3001", "Ben", "Kovač", "ben@example.com", ((40, 90),)),
)


def make_people(app: Flask) -> dict[str, int]:
    """The customers of :data:`PEOPLE` with their lots (expiring in N days); record ids."""
    with app.app_context():
        ensure_merchant("shop")
        session, now = get_session(), utcnow()
        ids = {}
        for host, first, last, email, lots in PEOPLE:
            person = Customer(
                merchant_id="shop", host_customer_id=host, first_name=first, last_name=last,
                email=email, email_opt_in=host != "2077",
            )  # fmt: skip
            session.add(person)
            session.flush()
            account = open_account(session, merchant_id="shop", customer_id=person.id)
            for points, days in lots:
                ledger.earn(
                    session, account_id=account.id, points=points, now=now - timedelta(days=30),
                    actor="test", expires_at=now + timedelta(days=days),
                )  # fmt: skip
            ids[host] = person.id
        session.commit()
        return ids


def signed_in_page(
    browser: Browser, base: str, token: str, *, viewport: dict[str, int] | None = None
) -> Page:
    """A new browser whose admin cookie is ``token`` (a session the test started)."""
    context = browser.new_context(
        locale="en-GB", viewport=viewport or {"width": 1280, "height": 800}
    )
    host = urlsplit(base).hostname
    context.add_cookies([{"name": COOKIE, "value": token, "domain": host, "path": ADMIN + "/"}])
    page = context.new_page()
    page.set_default_timeout(10_000)
    return page


def accept_dialogs(page: Page) -> None:
    """Say yes to the pages' "are you sure?" questions."""
    page.on("dialog", lambda dialog: dialog.accept())


Opener = Callable[[str], Page]
