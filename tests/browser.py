"""Page tests: the app served on a loopback port, driven by a real Chromium (Playwright).

Debian's ``chromium`` (``/usr/bin/chromium``, installed by ``make test`` when missing) runs
headless; nothing here reaches the internet. The fixtures are loaded once for the whole
suite (``pytest_plugins`` in ``tests/conftest.py``): the portal's and the admin pages'
tests share one browser, as Playwright's synchronous API allows only one at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, sync_playwright

from tests.conftest import serving

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@dataclass(frozen=True)
class LiveServer:
    """The served app: ``url(path)`` is an absolute address."""

    base: str

    def url(self, path: str) -> str:
        return self.base + path


@pytest.fixture
def live_server(app: Flask) -> Iterator[LiveServer]:
    """The test's app on a free loopback port; e-mail links point to it."""
    with serving(app) as base:
        app.config["LOYALTY_PUBLIC_URL"] = base
        yield LiveServer(base)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the whole run."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context (no cookies) and page per test."""
    context = browser.new_context(locale="en-GB")
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    yield tab
    context.close()
