"""The portal's page tests use the suite-wide Playwright fixtures of ``tests/browser.py``
(``live_server``, ``browser``, ``page``); import ``LiveServer`` from there."""

from tests.browser import LiveServer

__all__ = ["LiveServer"]
