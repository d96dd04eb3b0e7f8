"""The merge and transfer pages at desktop and phone width: they fit, and the pictures.

With ``LOYALTY_SCREENSHOTS=1`` (``make screenshots``) the pictures replace
``docs/screenshots/admin-merge*.png`` and ``admin-transfer*.png``, shown in docs/admin.md.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.admin.browsing import make_people, signed_in_page

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
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{name} is {overflow}px wider than the screen"
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
    assert (folder / f"{name}.png").stat().st_size > 5_000


@pytest.mark.backends("sqlite")
@pytest.mark.parametrize("width", WIDTHS)
def test_merge_and_transfer_pages_fit_the_screen(
    width,
    app,
    live_server,
    browser,
    admin_client,
    shots,
) -> None:
    ids = make_people(app)
    manager = admin_client(role="manager")
    page = signed_in_page(browser, live_server.base, manager.token, viewport=WIDTHS[width])
    merge = manager.m(f"/customers/{ids['1042']}/merge")
    page.goto(live_server.url(merge + "?q=ana"))
    look(page, shots, f"admin-merge-search-{width}", "Merge customers")
    page.goto(live_server.url(merge + f"?q=ana&other={ids['2077']}&keep=this"))
    expect(page.get_by_test_id("merge-plan")).to_be_visible()
    look(page, shots, f"admin-merge-{width}", "Merge customers")
    page.goto(live_server.url(manager.m(f"/transfers/new?customer_id={ids['1042']}")))
    page.get_by_label("To (customer id)").fill("3001")
    page.get_by_label("Points").fill("350")
    page.get_by_label("Reason").fill("moving in together")
    page.get_by_role("button", name="Check").click()
    expect(page.get_by_test_id("transfer-plan")).to_be_visible()
    look(page, shots, f"admin-transfer-{width}", "Transfer points")
    page.context.close()
