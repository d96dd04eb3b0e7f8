"""The Jobs and Outbox screens at desktop and phone width (``make screenshots``): nothing
overflows. With ``LOYALTY_SCREENSHOTS=1`` they replace ``docs/screenshots/admin-jobs*`` and
``admin-outbox*``, which docs/admin.md shows."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, expect

from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import EmailStatus
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.job_runs import claim_run, finish_run
from tests.admin.test_cards_pages import sign_in
from tests.admin.test_operations_pages import expired_points
from tests.admin.test_operations_views import _email
from tests.pages.conftest import LiveServer
from tests.pages.test_screenshots import WIDTHS, at_width, look, shots  # noqa: F401


def _history(app: Flask) -> None:
    """Runs of the scheduler for every shop over the last hours, one of them failed."""
    with app.app_context():
        session = get_session()
        now = utcnow()
        history = (
            ("expire-points", 2, None),
            ("expire-points", 1, None),
            ("review-levels", 1, "OperationalError: server closed"),
            ("send-emails", 0, None),
            ("expiry-reminders", 1, None),
        )
        for job, hours, error in history:
            at = now - timedelta(hours=hours, minutes=5)
            claim = claim_run(session, job=job, scheduled_for=at, trigger="schedule",
                              owner="scheduler", now=at, lease=timedelta(minutes=5))  # fmt: skip
            finish_run(session, claim, job=job, now=at + timedelta(seconds=3), rows=12,
                       error=error)  # fmt: skip
        session.commit()


def _outbox(app: Flask) -> int:
    for number, address in enumerate(("ana@example.com", "joao@example.com", "mei@example.com")):
        _email(app, "shop", to=address)
        if number == 0:
            _email(app, "shop", to=f"sent-{address}", status=EmailStatus.SENT)
    return _email(app, "shop", to="bo@example.com", status=EmailStatus.FAILED,
                  error="550 5.1.1 <bo@example.com>: Recipient address rejected")  # fmt: skip


@pytest.mark.backends("sqlite")
@pytest.mark.parametrize("width", WIDTHS)
def test_admin_operations_pages_fit_the_screen(
    width: str,
    app: Flask,
    live_server: LiveServer,
    browser: Browser,
    staff_member,
    shots: Path,  # noqa: F811
) -> None:
    expired_points(app, "shop", "c1", 120)
    _history(app)
    failed = _outbox(app)
    owner = staff_member(role="owner", merchant="shop", password=True, name="Olga Owner")
    page = at_width(browser, width)()
    sign_in(page, live_server, owner)
    page.on("dialog", lambda dialog: dialog.accept())
    base = "/loyalty/admin/m/shop"
    page.goto(live_server.url(f"{base}/jobs"))
    page.locator("tr[data-job='expire-points']").get_by_role("button", name="Run now").click()
    expect(page.get_by_text("expire-points ran for this shop")).to_be_visible()
    look(page, shots, f"admin-jobs-{width}", "Jobs")
    page.goto(live_server.url(f"{base}/outbox"))
    look(page, shots, f"admin-outbox-{width}", "E-mail outbox")
    page.goto(live_server.url(f"{base}/outbox/{failed}"))
    frame = page.frame_locator('[data-testid="email-frame"]')
    expect(frame.get_by_text("See my points")).to_be_visible()  # the HTML part has loaded
    look(page, shots, f"admin-outbox-email-{width}", "bo@example.com")
    # A full-page picture leaves the sandboxed frame (another process) blank: the HTML part
    # is pictured as the screen shows it.
    page.get_by_test_id("email-frame").scroll_into_view_if_needed()
    expect(frame.get_by_text("See my points")).to_be_visible()
    page.wait_for_timeout(500)  # the frame paints again after the full-page picture
    page.screenshot(path=str(shots / f"admin-outbox-email-html-{width}.png"))
