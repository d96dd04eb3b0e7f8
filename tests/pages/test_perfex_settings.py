"""The Perfex module's settings section in Chromium: its view rendered by PHP from the
module's own file, the "Send a test event" button pressed against the served plugin, and
the picture for docs/perfex.md (replaced in docs/screenshots/ with LOYALTY_SCREENSHOTS=1).

Perfex's own stylesheet is not available here: a few lines of CSS stand in for Bootstrap's
form classes, which the view uses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, Route, expect

from tests.pages.test_screenshots import shots  # noqa: F401 (a fixture)
from tests.webhooks.conftest import SECRET, host, served  # noqa: F401 (fixtures)
from tests.webhooks.test_perfex_module import Perfex, perfex_dsn  # noqa: F401 (a fixture)

pytestmark = pytest.mark.backends("sqlite")

BOOTSTRAP_LIKE = """
body { font: 14px/1.5 system-ui, sans-serif; color: #333; margin: 0; background: #f1f5f9; }
.panel { max-width: 720px; margin: 24px auto; background: #fff; padding: 24px;
         border: 1px solid #e2e8f0; border-radius: 6px; }
h4 { margin: 0 0 16px; font-size: 18px; }
.form-group { margin-bottom: 15px; }
label { display: block; font-weight: 600; margin-bottom: 5px; }
label input[type=checkbox] { margin-right: 6px; }
.form-control { display: block; width: 100%; box-sizing: border-box; height: 36px;
                padding: 6px 12px; border: 1px solid #d1d5db; border-radius: 4px; }
.text-muted { color: #6b7280; margin: 4px 0 0; font-size: 13px; }
.btn { display: inline-block; padding: 6px 12px; border: 1px solid #d1d5db;
       border-radius: 4px; background: #fff; cursor: pointer; font: inherit; }
.btn-link { border-color: transparent; color: #2563eb; text-decoration: none; }
.alert { padding: 10px 15px; border-radius: 4px; margin-top: 15px; }
.alert-success { background: #dcfce7; color: #166534; }
.alert-danger { background: #fee2e2; color: #991b1b; }
"""


def test_the_settings_section_and_its_test_button(
    page: Page,
    perfex_dsn: str,  # noqa: F811
    served: str,  # noqa: F811
    shots: Path,  # noqa: F811
) -> None:
    perfex = Perfex(perfex_dsn)
    perfex("setup")
    perfex("custom_field")
    perfex(
        "options",
        options={
            "loyalty_bridge_url": served.removesuffix("/webhooks"),
            "loyalty_bridge_secret": SECRET,
            "loyalty_bridge_dob_field": "customers_date_of_birth",
        },
    )
    section = perfex("render_settings")
    html = (
        f"<!doctype html><html><head><meta charset='utf-8'><style>{BOOTSTRAP_LIKE}</style>"
        f"</head><body><div class='panel'><h4>Loyalty points</h4>{section}</div></body></html>"
    )

    def answer_test(route: Route) -> Any:  # admin/loyalty_bridge/test, run by the module
        route.fulfill(content_type="application/json", body=json.dumps(perfex("test_connection")))

    page.route("http://perfex.test/admin/loyalty_bridge/test", answer_test)
    page.route(
        "http://perfex.test/", lambda route: route.fulfill(content_type="text/html", body=html)
    )
    page.set_viewport_size({"width": 900, "height": 900})
    page.goto("http://perfex.test/")
    expect(page.get_by_label("Loyalty plugin URL")).to_have_value(served.removesuffix("/webhooks"))
    expect(page.get_by_label("Custom field with the date of birth")).to_have_value(
        "customers_date_of_birth"
    )
    page.get_by_role("button", name="Send a test event").click()
    expect(page.get_by_role("status")).to_contain_text("accepted the signature")
    page.screenshot(path=str(shots / "perfex-settings.png"), full_page=True)
    assert (shots / "perfex-settings.png").stat().st_size > 5_000

    perfex("options", options={"loyalty_bridge_secret": "whsec_AAAAAAAAAAAAAAAAAAAAAAAA"})
    page.get_by_role("button", name="Send a test event").click()
    expect(page.get_by_role("status")).to_contain_text("refused the signature")
