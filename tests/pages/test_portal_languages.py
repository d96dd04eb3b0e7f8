"""The portal in the customer's language (docs/portal.md#languages), in Chromium.

The language is the customer's locale when the host sent one we ship, else the merchant's
(its e-mails' locale), else English; numbers and dates follow the same locale. Plurals go
through ``ngettext``: "1 Punkt", "2 Punkte". The German pages are pictured at desktop and
phone width with ``LOYALTY_SCREENSHOTS=1``.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from sqlalchemy.orm import Session

from loyalty_plugin.domain.coupons import CouponKind, CouponValue
from loyalty_plugin.domain.notifications import NotificationPrefs
from loyalty_plugin.models import Account, Customer
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.customers import portal
from loyalty_plugin.services.earning.programs import create_program
from loyalty_plugin.services.ledger.entries import Reference
from loyalty_plugin.services.messaging.notifications import set_notification_prefs
from loyalty_plugin.services.spending.rewards import create_reward
from tests.browser import LiveServer
from tests.pages.test_portal import TIERS, ana, earn, sign_in  # noqa: F401 (ana: a fixture)
from tests.pages.test_screenshots import WIDTHS, at_width, look, shots  # noqa: F401 (shots)

BROWSER_BACKENDS = pytest.mark.backends("sqlite", "postgresql")


def german_shop(session: Session) -> None:
    set_notification_prefs(
        session, merchant_id="shop", prefs=NotificationPrefs(locale="de_DE"), now=utcnow(),
        actor="t",
    )  # fmt: skip
    session.commit()


def with_levels(session: Session) -> None:
    create_program(
        session, merchant_id="shop", now=utcnow() - timedelta(days=1), actor="t",
        definition={"key": "main", "name": "Main", "status": "active",
                    "rules": [{"kind": "per_amount", "points": "1", "per": "1"}],
                    "levels": {"tiers": TIERS, "measure": "points"}},
    )  # fmt: skip
    session.commit()


def expiring_in(days: int) -> datetime:
    return datetime.combine((utcnow() + timedelta(days=days)).date(), time(8), tzinfo=UTC)


@BROWSER_BACKENDS
def test_a_german_shop_s_portal_reads_in_german(
    app: Flask,
    live_server: LiveServer,
    page: Page,
    session: Session,
    ana: Account,  # noqa: F811
) -> None:
    """Every page in German, with one point singular and more plural, German numbers, and
    a refused coupon amount explained in German."""
    german_shop(session)
    with_levels(session)
    earn(session, ana, 1, expires_at=expiring_in(10))
    earn(session, ana, 1500, expires_at=expiring_in(40), reference=Reference("invoice", "R-1"))
    sign_in(page, app, live_server, ana)
    assert page.locator("html").get_attribute("lang") == "de-DE"
    expect(page.get_by_role("heading", level=1)).to_have_text("Hallo Ana")
    expect(page.locator(".pill")).to_have_text("1.501 P.")
    expect(page.get_by_role("heading", name="Ihre Punkte")).to_be_visible()
    expiring = page.get_by_test_id("expiring")
    expect(expiring.locator("li").first).to_contain_text("1 Punkt verfällt am")
    expect(expiring.locator("li").last).to_contain_text("1.500 Punkte verfallen am")
    expect(page.get_by_test_id("needed")).to_contain_text("Noch 499 Punkte bis Silver")

    page.get_by_role("link", name="Punkteverlauf", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Punkteverlauf")
    table = page.get_by_role("table")
    expect(table.get_by_role("columnheader", name="Stand")).to_be_visible()
    expect(table).to_contain_text("Punkte gesammelt")
    expect(table).to_contain_text("Rechnung R-1")

    page.get_by_role("link", name="Gutscheine", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Meine Gutscheine")
    expect(page.locator("#convert")).to_contain_text(
        "Sie haben 1.501 Punkte zum Einlösen. 100 Punkte ergeben einen Gutschein über 1,00 €."
    )
    page.get_by_label("Einzulösende Punkte").fill("viele")
    page.get_by_role("button", name="Gutschein erstellen").click()
    expect(page.get_by_role("alert")).to_have_text("Bitte geben Sie die Punkte als ganze Zahl ein.")
    page.get_by_label("Einzulösende Punkte").fill("5000")
    page.get_by_role("button", name="Gutschein erstellen").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "Sie haben nicht genug Punkte: Sie möchten 5.000 einlösen und haben 1.501 verfügbar."
    )
    page.get_by_role("button", name="Auf diesem Gerät abmelden").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sie sind abgemeldet")


@BROWSER_BACKENDS
def test_the_customer_s_own_locale_wins(
    app: Flask,
    live_server: LiveServer,
    page: Page,
    session: Session,
    ana: Account,  # noqa: F811
) -> None:
    """A customer the host said reads Swahili sees Swahili at a German shop."""
    german_shop(session)
    session.get_one(Customer, ana.customer_id).locale = "sw_KE"
    session.commit()
    earn(session, ana, 1, expires_at=expiring_in(10))
    sign_in(page, app, live_server, ana)
    assert page.locator("html").get_attribute("lang") == "sw-KE"
    expect(page.get_by_role("heading", level=1)).to_have_text("Habari, Ana")
    expect(page.get_by_test_id("expiring")).to_contain_text("Pointi 1 itaisha muda tarehe")
    expect(page.get_by_role("link", name="Historia ya pointi")).to_be_visible()


def test_an_expired_link_says_so_in_the_customer_s_language(
    app: Flask,
    client: Any,
    session: Session,
    ana: Account,  # noqa: F811
) -> None:
    """The error pages know the customer from the (expired) link, and speak German."""
    german_shop(session)
    token = portal.make_token(
        app.config["LOYALTY_SECRET_KEY"], merchant_id="shop", customer_id=ana.customer_id,
        expires_at=utcnow() - timedelta(minutes=1),
    )  # fmt: skip
    page = client.get(f"/loyalty/portal/link/{token}").get_data(as_text=True)
    assert '<html lang="de">' in page and "<h1>Dieser Link ist abgelaufen</h1>" in page
    forged = client.get("/loyalty/portal/link/forged").get_data(as_text=True)
    assert "<h1>This link does not work</h1>" in forged  # no customer known: English


#: Each shipped language's shop locale and the headings its pages must show.
SHOPS = {
    "de": ("de_DE", ("Hallo Ana", "Punkteverlauf", "Meine Gutscheine", "Prämien", "Meine Stufe")),
    "sw": ("sw_KE", ("Habari, Ana", "Historia ya pointi", "Kuponi zangu", "Zawadi",
                     "Kiwango changu")),
}  # fmt: skip


@pytest.mark.backends("sqlite")
@pytest.mark.parametrize("language", SHOPS)
@pytest.mark.parametrize("width", WIDTHS)
def test_each_language_s_portal_fits_the_screen(
    language: str,
    width: str,
    app: Flask,
    live_server: LiveServer,
    browser: Browser,
    session: Session,
    ana: Account,  # noqa: F811
    shots: Path,  # noqa: F811
) -> None:
    """German and Swahili words are longer: the overview, the history, the coupons, the
    rewards and the level page still fit a phone, and read in the shop's language."""
    locale, (hello, history, coupons, rewards, level) = SHOPS[language]
    set_notification_prefs(
        session, merchant_id="shop", prefs=NotificationPrefs(locale=locale), now=utcnow(),
        actor="t",
    )  # fmt: skip
    session.commit()
    with_levels(session)
    for number, points in enumerate((1200, 340, 85, 1), start=1):
        earn(session, ana, points, reference=Reference("invoice", f"RE-2026-{1000 + number}"),
             expires_at=expiring_in(20 * number))  # fmt: skip
    page = at_width(browser, width)()
    sign_in(page, app, live_server, ana)
    look(page, shots, f"portal-{language}-overview-{width}", hello)
    page.goto(live_server.url("/loyalty/portal/points"))
    look(page, shots, f"portal-{language}-points-{width}", history)
    page.goto(live_server.url("/loyalty/portal/coupons"))
    look(page, shots, f"portal-{language}-coupons-{width}", coupons)
    create_reward(
        session, merchant_id="shop", name="5-€-Gutschein" if language == "de" else "Vocha ya €5",
        points=500, now=utcnow(), per_customer_limit=2, coupon_valid_days=30,
        value=CouponValue(kind=CouponKind.AMOUNT, amount=Decimal("5.00"), currency="EUR"),
    )  # fmt: skip
    session.commit()
    page.goto(live_server.url("/loyalty/portal/rewards"))
    look(page, shots, f"portal-{language}-rewards-{width}", rewards)
    page.goto(live_server.url("/loyalty/portal/level"))
    look(page, shots, f"portal-{language}-level-{width}", level)


def test_a_host_with_its_own_flask_babel_keeps_it(database_url: str, engine: Any) -> None:
    """Mounted in a host that runs Flask-Babel (French, its own catalogues), the portal
    still speaks the shop's German, and the host's locale selector and templates are its own."""
    from flask import render_template_string
    from flask_babel import Babel, get_locale

    from loyalty_plugin import LoyaltyPlugin
    from loyalty_plugin.extensions import get_session
    from loyalty_plugin.models import Merchant
    from tests.conftest import wipe

    host = Flask("host")
    host.config.update(LOYALTY_DATABASE_URL=database_url, LOYALTY_SECRET_KEY="x")
    Babel(host, locale_selector=lambda: "fr")

    @host.get("/")
    def home() -> str:
        return render_template_string("{{ _('Hello') }} {{ language|default('host') }}")

    LoyaltyPlugin(host)
    with host.app_context():
        session = get_session()
        session.add(Merchant(id="shop", name="Café Lumière", currency="EUR"))
        session.flush()
        customer = Customer(merchant_id="shop", host_customer_id="42", first_name="Ana")
        session.add(customer)
        session.commit()
        german_shop(session)
        token = portal.make_token(
            "x", merchant_id="shop", customer_id=customer.id,
            expires_at=utcnow() + timedelta(hours=1),
        )  # fmt: skip
    client = host.test_client()
    client.get(f"/loyalty/portal/link/{token}")
    assert "<h1>Hallo Ana</h1>" in client.get("/loyalty/portal").get_data(as_text=True)
    assert client.get("/").get_data(as_text=True) == "Hello host"
    with host.test_request_context("/"):
        assert str(get_locale()) == "fr"
    with host.app_context():
        host.extensions["loyalty"].db.engine.dispose()
    wipe(engine)
