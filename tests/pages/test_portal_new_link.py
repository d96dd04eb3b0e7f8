"""The expired-link page's "e-mail me a new link" (issue 17), to a real SMTP server.

In Chromium: the form, the e-mail, and its link opening the portal. Through the test
client: the same answer for an unknown address, the CSRF value, the limits, and links of
another shop.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from loyalty_plugin.domain.notifications import Message, NotificationPrefs
from loyalty_plugin.models import Account, Customer, Merchant
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.customers import portal
from loyalty_plugin.services.messaging.notifications import set_notification_prefs
from loyalty_plugin.services.messaging.portal_links import PER_ADDRESS
from loyalty_plugin.services.spending.settings import update_settings
from tests.conftest import serving
from tests.email import conftest as email

#: The e-mail tests' fixtures (a real SMTP server per test, the app sending to it).
smtp_server, no_foreign_smtp, inbox = email.smtp_server, email.no_foreign_smtp, email.inbox
mail_app, runner, run = email.mail_app, email.runner, email.run
db, shop, ana = email.db, email.shop, email.ana

PORTAL = "/loyalty/portal"
HOST = "https://crm.shop.example"


def expired_link(app: Flask, customer_id: int, merchant_id: str = "shop") -> str:
    token = portal.make_token(
        app.config["LOYALTY_SECRET_KEY"], merchant_id=merchant_id, customer_id=customer_id,
        expires_at=utcnow() - timedelta(days=1),
    )  # fmt: skip
    return f"{PORTAL}/link/{token}"


def form_of(html: str) -> dict[str, str]:
    """The hidden values of the page's new-link form."""
    return dict(re.findall(r'<input type="hidden" name="(link|csrf)" value="([^"]*)">', html))


def ask(client: Any, page_html: str, typed: str, **changes: str) -> Any:
    return client.post(f"{PORTAL}/new-link", data=form_of(page_html) | {"email": typed} | changes)


def body_of(answer: Any) -> str:
    """The page's words, the typed address left out: what the asker learns."""
    return answer.get_data(as_text=True)


@pytest.mark.backends("sqlite", "postgresql")
def test_the_expired_page_emails_a_link_that_opens_the_portal(
    mail_app: Flask, db: Session, ana: Account, inbox, run, page: Page
) -> None:
    """Ana types her address on the expired page; the e-mail's link shows her points."""
    with serving(mail_app) as base:
        mail_app.config["LOYALTY_PUBLIC_URL"] = base
        answer = page.goto(base + expired_link(mail_app, ana.customer_id))
        assert answer.status == 410
        expect(page.get_by_role("heading", level=1)).to_have_text("This link has expired")
        page.get_by_label("Your e-mail address").fill("ana@example.com")
        page.get_by_role("button", name="E-mail me a new link").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Check your inbox")
        expect(page.get_by_test_id("new-link-sent")).to_contain_text("ana@example.com")
        run("send-emails", utcnow())
        (message,) = inbox.messages
        assert message["To"] == "ana@example.com"
        html = message.get_body("html").get_content()
        link = re.search(r'href="([^"]*/portal/link/[^"]+)"', html).group(1)
        assert link.startswith(base + PORTAL + "/link/")
        page.goto(link)
        expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Ana")
        expect(page.locator(".brand")).to_contain_text("Café Lumière")


def test_an_unknown_address_gets_the_same_answer_and_no_email(
    mail_app: Flask, ana: Account, inbox, run
) -> None:
    """Known or not, the page reads the same (but for the address typed); only one e-mail."""
    client = mail_app.test_client()
    expired = client.get(expired_link(mail_app, ana.customer_id))
    assert expired.status_code == 410 and 'data-testid="new-link-form"' in body_of(expired)
    known = ask(client, body_of(expired), "ana@example.com")
    unknown = ask(client, body_of(expired), "zed@example.com")
    assert known.status_code == unknown.status_code == 200
    assert body_of(known).replace("ana@example.com", "X") == body_of(unknown).replace(
        "zed@example.com", "X"
    )
    run("send-emails", utcnow())
    assert [m["To"] for m in inbox.messages] == ["ana@example.com"]


def test_a_signed_in_cookie_that_expired_shows_the_form_too(mail_app: Flask, ana: Account) -> None:
    """The portal cookie's link expired: the 403 page offers the form for that link."""
    client = mail_app.test_client()
    token = expired_link(mail_app, ana.customer_id).rsplit("/", 1)[1]
    client.set_cookie("loyalty_portal", token, path=PORTAL)
    page = client.get(PORTAL)
    assert page.status_code == 403
    assert form_of(body_of(page))["link"] == token


def test_the_form_needs_its_cookie_and_its_own_link(
    mail_app: Flask, db, ana: Account, inbox, run
) -> None:
    """Without the page's cookie (another site posting), with another link's CSRF value, or
    a link we did not sign: refused, nothing sent."""
    client = mail_app.test_client()
    html = body_of(client.get(expired_link(mail_app, ana.customer_id)))
    other = mail_app.test_client()
    assert ask(other, html, "ana@example.com").status_code == 400  # no cookie of the page
    bea = Customer(merchant_id="shop", host_customer_id="43", first_name="Bea",
                   email="bea@example.com", created_at=email.T0)  # fmt: skip
    db.add(bea)
    db.commit()
    beas_link = form_of(body_of(client.get(expired_link(mail_app, bea.id))))["link"]
    swapped = ask(client, html, "bea@example.com", link=beas_link)
    assert swapped.status_code == 400
    assert "too old or not from this page" in body_of(swapped)
    forged = ask(client, html, "ana@example.com", link="forged.token")
    assert forged.status_code == 404
    run("send-emails", utcnow())
    assert inbox.messages == []


def test_a_typed_mistake_is_shown_at_the_field(mail_app: Flask, ana: Account) -> None:
    client = mail_app.test_client()
    html = body_of(client.get(expired_link(mail_app, ana.customer_id)))
    wrong = ask(client, html, "ana at example")
    assert wrong.status_code == 422
    assert 'aria-invalid="true"' in body_of(wrong) and 'value="ana at example"' in body_of(wrong)


def test_too_many_requests_wait_and_the_fourth_link_is_not_sent(
    mail_app: Flask, ana: Account, inbox, run
) -> None:
    """Three links an hour at most (the fourth answer looks the same); a sixth try of one
    address is told to wait."""
    client = mail_app.test_client()
    html = body_of(client.get(expired_link(mail_app, ana.customer_id)))
    answers = [ask(client, html, "ana@example.com").status_code for _ in range(PER_ADDRESS)]
    assert answers == [200] * PER_ADDRESS
    wait = ask(client, html, "ana@example.com")
    assert wait.status_code == 429 and "Please try again in 60 minutes" in body_of(wait)
    run("send-emails", utcnow())
    assert len(inbox.messages) == 3


def test_another_shops_expired_link_sends_nothing_to_this_shops_customer(
    mail_app: Flask, db, ana: Account, inbox, run
) -> None:
    """An expired link of ``other`` names ``other``'s customer: Ana's address gets nothing."""
    db.add(Merchant(id="other", name="Other Shop", currency="EUR", timezone="UTC"))
    db.flush()
    zed = Customer(merchant_id="other", host_customer_id="42", first_name="Zed",
                   email="zed@example.com", created_at=email.T0)  # fmt: skip
    db.add(zed)
    db.commit()
    client = mail_app.test_client()
    html = body_of(client.get(expired_link(mail_app, zed.id, "other")))
    assert "Other Shop" in html
    assert ask(client, html, "ana@example.com").status_code == 200
    crossed = body_of(client.get(expired_link(mail_app, ana.customer_id, "other")))
    assert 'data-testid="new-link-form"' in crossed  # a link of ours, naming nobody there
    assert ask(client, crossed, "ana@example.com").status_code == 200
    run("send-emails", utcnow())
    assert inbox.messages == []


def test_no_form_when_the_merchant_switched_the_email_off(mail_app: Flask, db, ana) -> None:
    off = NotificationPrefs(disabled=frozenset({Message.PORTAL_LINK}))
    set_notification_prefs(db, merchant_id="shop", now=utcnow(), actor="t", prefs=off)
    db.commit()
    page = body_of(mail_app.test_client().get(expired_link(mail_app, ana.customer_id)))
    assert "This link has expired" in page and "new-link-form" not in page


def test_a_portal_the_host_frames_keeps_its_form_working(
    mail_app: Flask, db, ana, inbox, run
) -> None:
    """Framed by the host, the form's cookie is ``SameSite=None; Secure; Partitioned`` (a
    Strict one would never reach the frame) and the answer may be framed by that host."""
    update_settings(db, merchant_id="shop", changes={"portal_frame_ancestors": [HOST]},
                    now=utcnow(), actor="t")  # fmt: skip
    db.commit()
    client = mail_app.test_client()
    expired = client.get(expired_link(mail_app, ana.customer_id))
    cookie = next(
        c for c in expired.headers.getlist("Set-Cookie") if c.startswith("loyalty_portal_ask=")
    )
    assert "SameSite=None" in cookie and "Secure" in cookie and "Partitioned" in cookie
    sent = ask(client, body_of(expired), "ana@example.com")
    assert sent.status_code == 200
    assert f"frame-ancestors {HOST}" in sent.headers["Content-Security-Policy"]
    run("send-emails", utcnow())
    assert [m["To"] for m in inbox.messages] == ["ana@example.com"]
