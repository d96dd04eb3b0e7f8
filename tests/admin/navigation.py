"""For browser tests: open a screen from the bar, its section first when it is not open."""

from __future__ import annotations

from playwright.sync_api import Page

from loyalty_plugin.web.admin.access import OTHER_SECTION
from loyalty_plugin.web.admin.blueprint import NAV


def section_of(label: str) -> str:
    """The bar's section that holds the screen called ``label``."""
    item = next(item for item in NAV if item.label == label)
    return item.section or OTHER_SECTION


def open_screen(page: Page, label: str) -> None:
    """Click ``label`` in the "Screens" row, after its section in the "Sections" row."""
    page.get_by_role("navigation", name="Sections").get_by_role(
        "link", name=section_of(label), exact=True
    ).click()
    page.get_by_role("navigation", name="Screens").get_by_role(
        "link", name=label, exact=True
    ).click()
