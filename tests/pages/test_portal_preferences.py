"""Marketing consent on the portal and through an e-mail's unsubscribe link.

Each change is a ``consent.changed`` audit row with its time and source; the link works
without a portal session. Forms of another customer are refused.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty_plugin.email.links import unsubscribe_token
from loyalty_plugin.models import AuditEntry, Customer, Merchant
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.audit import Actor
from loyalty_plugin.services.customers import portal
from loyalty_plugin.services.messaging.notifications import set_consent
from tests.browser import LiveServer
from tests.pages.test_portal import BROWSER_BACKENDS

PORTAL = "/loyalty/portal"


@pytest.fixture
def people(session: Session) -> dict[str, Customer]:
    """Ana (e-mail consent given by staff) and Ben, of ``shop``."""
    session.add(Merchant(id="shop", name="Café Lumière", currency="EUR"))
    session.flush()
    made = {}
    for host_id, name in (("42", "Ana"), ("43", "Ben")):
        made[name.lower()] = Customer(
            merchant_id="shop", host_customer_id=host_id, first_name=name, email=f"{name}@x.test"
        )
        session.add(made[name.lower()])
    session.flush()
    set_consent(
        session, merchant_id="shop", customer_id="42", email_opt_in=True,
        actor=Actor.staff(1, "Bea"), now=utcnow() - timedelta(days=3),
    )  # fmt: skip
    session.commit()
    return made


def token_for(app: Flask, person: Customer) -> str:
    return portal.make_token(
        app.config["LOYALTY_SECRET_KEY"], merchant_id="shop", customer_id=person.id,
        expires_at=utcnow() + timedelta(hours=1),
    )  # fmt: skip


def consents(session: Session, person: Customer) -> tuple[bool, bool, list[str | None]]:
    """The customer's two consents and the sources of their audit rows, oldest first."""
    session.expire_all()
    fresh = session.get_one(Customer, person.id)
    rows = session.scalars(
        select(AuditEntry)
        .where(
            AuditEntry.action == "consent.changed", AuditEntry.target_id == fresh.host_customer_id
        )
        .order_by(AuditEntry.id)
    ).all()
    found = (fresh.email_opt_in, fresh.sms_opt_in, [(r.after or {}).get("source") for r in rows])
    session.commit()
    return found


def form_of(page: bytes, channel: str) -> dict[str, str]:
    """The hidden values of ``channel``'s form."""
    text = page.decode()
    block = text[text.index(f'data-consent="{channel}"') :]
    return dict(re.findall(r'name="(\w+)" value="([^"]*)"', block)[:4])


def test_one_click_changes_a_consent_with_its_source(
    app: Flask, client: Any, session: Session, people: dict[str, Customer]
) -> None:
    """SMS given, e-mail withdrawn on the portal: two audit rows with source ``portal``."""
    client.get(f"{PORTAL}/link/{token_for(app, people['ana'])}")
    page = client.get(f"{PORTAL}/preferences").data
    assert b"Changed on" in page and b"by our team" in page
    answer = client.post(f"{PORTAL}/preferences", data=form_of(page, "sms"))
    assert answer.status_code == 303 and answer.headers["Location"].endswith("saved=sms")
    page = client.get(answer.headers["Location"]).data
    client.post(f"{PORTAL}/preferences", data=form_of(page, "email"))
    assert consents(session, people["ana"]) == (False, True, [None, "portal", "portal"])
    page = client.get(f"{PORTAL}/preferences").data.decode()
    assert page.count("on this page.") == 2


def test_another_customers_form_and_bad_values_are_refused(
    app: Flask, client: Any, session: Session, people: dict[str, Customer]
) -> None:
    """Ben's form with Ana's cookie: 400; an unknown channel or answer: 422 at the field."""
    client.get(f"{PORTAL}/link/{token_for(app, people['ben'])}")
    bens = form_of(client.get(f"{PORTAL}/preferences").data, "email")
    client.get(f"{PORTAL}/link/{token_for(app, people['ana'])}")
    refused = client.post(f"{PORTAL}/preferences", data=bens)
    assert refused.status_code == 400 and b"Please try again" in refused.data
    anas = form_of(client.get(f"{PORTAL}/preferences").data, "sms")
    for change, words in (
        ({"channel": "post"}, b"Choose e-mail or SMS."),
        ({"given": "maybe"}, b"Choose yes or no."),
    ):
        answer = client.post(f"{PORTAL}/preferences", data=anas | change)
        assert answer.status_code == 422 and words in answer.data
    assert consents(session, people["ana"])[:2] == (True, False)
    assert consents(session, people["ben"])[:2] == (False, False)


def test_the_unsubscribe_link_works_without_a_portal_session(
    app: Flask, client: Any, session: Session, people: dict[str, Customer]
) -> None:
    """No cookie: the link's button withdraws e-mail consent, source ``unsubscribe link``."""
    token = unsubscribe_token(
        app.config["LOYALTY_SECRET_KEY"], merchant_id="shop", customer_id=people["ana"].id
    )
    assert client.get(f"/loyalty/email/unsubscribe/{token}").status_code == 200
    assert client.post(f"/loyalty/email/unsubscribe/{token}").status_code == 200
    assert consents(session, people["ana"]) == (False, False, [None, "unsubscribe link"])
    client.get(f"{PORTAL}/link/{token_for(app, people['ana'])}")
    page = client.get(f"{PORTAL}/preferences").data.decode()
    assert "with the unsubscribe link in an e-mail" in page


@BROWSER_BACKENDS
def test_changing_consent_in_the_browser(
    app: Flask, live_server: LiveServer, page: Page, session: Session, people: dict[str, Customer]
) -> None:
    """One click each; the page says what is chosen and when it changed."""
    page.goto(live_server.url(f"{PORTAL}/link/{token_for(app, people['ben'])}"))
    page.get_by_role("link", name="Preferences", exact=True).click()
    sms = page.locator("[data-consent='sms']")
    expect(sms.get_by_test_id("state")).to_have_text("no, thank you")
    sms.get_by_role("button", name="Send me text messages").click()
    expect(page.get_by_test_id("saved")).to_be_visible()
    expect(sms.get_by_test_id("state")).to_have_text("yes, please")
    expect(sms.get_by_test_id("changed")).to_contain_text("on this page")
    assert consents(session, people["ben"]) == (False, True, ["portal"])
