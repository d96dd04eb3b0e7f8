"""An e-mail sent over real SMTP carries a portal link that opens the customer's page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from loyalty_plugin.models import Account
from loyalty_plugin.services.ledger import entries as ledger
from tests.conftest import serving
from tests.email import conftest as email

#: The e-mail tests' fixtures (a real SMTP server per test, the app sending to it).
smtp_server, no_foreign_smtp, inbox = email.smtp_server, email.no_foreign_smtp, email.inbox
mail_app, runner, run = email.mail_app, email.runner, email.run
db, shop, ana = email.db, email.shop, email.ana


@pytest.mark.backends("sqlite", "postgresql")
def test_the_email_button_opens_the_customers_portal(
    mail_app,
    db: Session,
    ana: Account,
    inbox,
    run,
    page: Page,
) -> None:
    """The receipt's "See my points" link, followed in Chromium, shows Ana her 1,234 points."""
    with serving(mail_app) as base:
        mail_app.config["LOYALTY_PUBLIC_URL"] = base
        ledger.earn(db, account_id=ana.id, points=1234, now=email.T0, actor="t")
        db.commit()
        run("send-emails", email.T0)
        (message,) = inbox.messages
        html = message.get_body("html").get_content()
        text = message.get_body("plain").get_content()
        link = re.search(r'href="([^"]*/portal/link/[^"]+)"', html).group(1)
        assert link.startswith(base + "/loyalty/portal/link/")
        assert link in text
        page.goto(link)
        expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Ana")
        expect(page.get_by_test_id("balance")).to_have_text("1,234")
        expect(page.locator(".brand")).to_contain_text("Café Lumière")
