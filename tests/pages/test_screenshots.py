"""Every portal page at desktop and phone width: nothing overflows, and the pictures.

Each page is opened in Chromium at 1280 and 390 pixels wide. The test checks that its
heading shows and that nothing is wider than the screen. The screenshots go to a temporary
folder; with ``LOYALTY_SCREENSHOTS=1`` (``make screenshots``) they replace those in
``docs/screenshots/``, which the [portal](../../docs/portal.md) page shows.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from sqlalchemy.orm import Session

from loyalty_plugin import create_app
from loyalty_plugin.models import Account, Customer
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.customers import portal
from loyalty_plugin.services.earning.programs import create_program
from loyalty_plugin.services.ledger.accounts import find_customer
from loyalty_plugin.services.ledger.entries import Reference
from tests.browser import LiveServer
from tests.conftest import serving
from tests.levels.conftest import Host, db, host  # noqa: F401 (fixtures)
from tests.pages.test_portal import TIERS, ana, earn, sign_in  # noqa: F401 (ana: a fixture)
from tests.pages.test_portal_credit import credit_story
from tests.pages.test_portal_history import story as history_story
from tests.pages.test_portal_shop import add_levels, add_rewards

DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
WIDTHS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where the pictures go: docs/screenshots/ when asked for, else a temporary folder."""
    if os.environ.get("LOYALTY_SCREENSHOTS") == "1":
        DOCS_SCREENSHOTS.mkdir(exist_ok=True)
        return DOCS_SCREENSHOTS
    return tmp_path


def look(page: Page, folder: Path, name: str, heading: str) -> None:
    """The page shows ``heading``, fits the screen's width, and is pictured whole."""
    expect(page.get_by_role("heading", level=1)).to_contain_text(heading)
    # Measured before its stylesheets apply, a page just navigated to can be wider.
    page.wait_for_load_state("load")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{name} is {overflow}px wider than the screen"
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
    assert (folder / f"{name}.png").stat().st_size > 5_000


def unbroken(page: Page, selector: str, text: str) -> None:
    """Every ``selector`` (one at least containing ``text``) sits on one line, hyphens too."""
    found = page.locator(selector)
    expect(found.first).to_be_visible()
    assert text in " ".join(found.all_inner_texts())
    lines = found.evaluate_all("els => els.map(e => [e.textContent, e.getClientRects().length])")
    assert [code for code, count in lines if count != 1] == []


def at_width(browser: Browser, width: str) -> Callable[[], Page]:
    def new_page() -> Page:
        context = browser.new_context(locale="en-GB", viewport=WIDTHS[width])
        return context.new_page()

    return new_page


@pytest.mark.backends("sqlite")
@pytest.mark.parametrize("width", WIDTHS)
def test_portal_pages_fit_the_screen(
    width: str,
    app: Flask,
    live_server: LiveServer,
    browser: Browser,
    session: Session,
    ana: Account,  # noqa: F811
    shots: Path,
) -> None:
    create_program(
        session, merchant_id="shop", now=utcnow() - timedelta(days=1), actor="t",
        definition={"key": "main", "name": "Points on every purchase", "status": "active",
                    "rules": [{"kind": "per_amount", "points": "1", "per": "1"}],
                    "levels": {"tiers": TIERS, "measure": "points"}},
    )  # fmt: skip
    session.commit()
    for number, points in enumerate((1200, 340, 85, 60), start=1):
        earn(session, ana, points, reference=Reference("invoice", f"INV-2026-{1000 + number}"))
    portal.convert(
        session, session.get_one(Customer, ana.customer_id), points=100, form_key="shot",
        now=utcnow(),
    )  # fmt: skip
    session.commit()
    page = at_width(browser, width)()
    errors: list[str] = []
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    sign_in(page, app, live_server, ana)
    look(page, shots, f"portal-overview-{width}", "Hello, Ana")
    page.goto(live_server.url("/loyalty/portal/points"))
    look(page, shots, f"portal-points-{width}", "")
    expect(page.get_by_role("columnheader", name="Balance")).to_be_visible()
    unbroken(page, ".log .id", "INV-2026-1004")
    page.goto(live_server.url("/loyalty/portal/coupons"))
    look(page, shots, f"portal-coupons-{width}", "")
    unbroken(page, ".coupon .code", "-")
    assert errors == []  # no missing favicon, nothing refused by the CSP
    token = portal.make_token(
        app.config["LOYALTY_SECRET_KEY"], merchant_id="shop", customer_id=ana.customer_id,
        expires_at=utcnow() - timedelta(minutes=1),
    )  # fmt: skip
    fresh = at_width(browser, width)()
    fresh.goto(live_server.url(f"/loyalty/portal/link/{token}"))
    look(fresh, shots, f"portal-link-expired-{width}", "This link has expired")


@pytest.mark.parametrize("width", WIDTHS)
def test_the_try_again_page_fits_the_screen(
    width: str, browser: Browser, tmp_path: Path, shots: Path
) -> None:
    """The page a signed-in customer sees while the database is unreachable."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    down = create_app(
        {
            "LOYALTY_DATABASE_URL": f"postgresql+psycopg://nobody@127.0.0.1:{closed}/none",
            "LOYALTY_SECRET_KEY": "x",
            "LOYALTY_INSTANCE_PATH": str(tmp_path),
        }
    )
    token = portal.make_token(
        "x", merchant_id="shop", customer_id=1, expires_at=utcnow() + timedelta(hours=1)
    )
    page = at_width(browser, width)()
    with serving(down) as base:
        page.context.add_cookies([{"name": "loyalty_portal", "value": token, "url": base}])
        answer = page.goto(base + "/loyalty/portal")
        assert answer.status == 503
        look(page, shots, f"portal-unavailable-{width}", "Please try again in a moment")


@pytest.mark.backends("sqlite")
@pytest.mark.parametrize("width", WIDTHS)
def test_shop_pages_fit_the_screen(
    width: str,
    app: Flask,
    live_server: LiveServer,
    browser: Browser,
    session: Session,
    ana: Account,  # noqa: F811
    shots: Path,
) -> None:
    """Rewards and memberships with their confirmations, the level, the preferences."""
    rewards = add_rewards(session)
    add_levels(session)
    earn(session, ana, 1850, reference=Reference("invoice", "INV-2026-1001"))
    page = at_width(browser, width)()
    sign_in(page, app, live_server, ana)
    page.goto(live_server.url("/loyalty/portal/rewards"))
    look(page, shots, f"portal-rewards-{width}", "Rewards")
    page.goto(live_server.url(f"/loyalty/portal/rewards/{rewards['€5 voucher']}"))
    look(page, shots, f"portal-reward-confirm-{width}", "Buy €5 voucher?")
    page.goto(live_server.url("/loyalty/portal/memberships"))
    look(page, shots, f"portal-memberships-{width}", "Memberships")
    page.goto(live_server.url("/loyalty/portal/memberships/gold"))
    look(page, shots, f"portal-membership-confirm-{width}", "Buy Gold?")
    page.get_by_role("button", name="Yes, buy it for 1,500 points").click()
    page.goto(live_server.url("/loyalty/portal/level"))
    look(page, shots, f"portal-level-{width}", "My level")
    page.goto(live_server.url("/loyalty/portal/preferences"))
    page.get_by_role("button", name="Send me e-mails").click()
    look(page, shots, f"portal-preferences-{width}", "Preferences")


@pytest.mark.backends("sqlite")
@pytest.mark.parametrize("width", WIDTHS)
def test_filtered_history_fits_the_screen(
    width: str,
    app: Flask,
    live_server: LiveServer,
    browser: Browser,
    host: Host,  # noqa: F811
    db: Session,  # noqa: F811
    shots: Path,
) -> None:
    """The points history filtered to earnings, one breakdown open."""
    history_story(host)
    customer = find_customer(db, "shop", "c1")
    token = portal.make_token(
        app.config["LOYALTY_SECRET_KEY"], merchant_id="shop", customer_id=customer.id,
        expires_at=utcnow() + timedelta(hours=1),
    )  # fmt: skip
    page = at_width(browser, width)()
    page.goto(live_server.url(f"/loyalty/portal/link/{token}"))
    page.goto(live_server.url("/loyalty/portal/points?kind=earned"))
    page.get_by_text("How these points were counted").last.click()
    look(page, shots, f"portal-points-filtered-{width}", "Points history")


@pytest.mark.backends("sqlite")
@pytest.mark.parametrize("width", WIDTHS)
def test_store_credit_pages_fit_the_screen(
    width: str,
    app: Flask,
    live_server: LiveServer,
    browser: Browser,
    host: Host,  # noqa: F811
    db: Session,  # noqa: F811
    shots: Path,
) -> None:
    """The overview with store credit beside the points, and the store credit page (#19)."""
    credit_story(host)
    customer = find_customer(db, "shop", "c1")
    token = portal.make_token(
        app.config["LOYALTY_SECRET_KEY"], merchant_id="shop", customer_id=customer.id,
        expires_at=utcnow() + timedelta(hours=1),
    )  # fmt: skip
    db.commit()
    page = at_width(browser, width)()
    page.goto(live_server.url(f"/loyalty/portal/link/{token}"))
    expect(page.get_by_test_id("credit-EUR")).to_have_text("€10.00")
    look(page, shots, f"portal-credit-overview-{width}", "Hello, Ana")
    page.get_by_role("link", name="See your store credit history").click()
    look(page, shots, f"portal-credit-{width}", "Store credit")
    expect(page.get_by_test_id("credit-log-EUR")).to_contain_text("Store credit expired")
    if width == "desktop":  # all eight English tabs on one row (German ones may wrap)
        tops = {
            box["y"] for box in (tab.bounding_box() for tab in page.locator(".tabs a").all()) if box
        }
        boxes = [(t.inner_text(), t.bounding_box()) for t in page.locator(".tabs a").all()]
        assert len(tops) == 1, f"the tabs take {len(tops)} rows: {boxes}"
