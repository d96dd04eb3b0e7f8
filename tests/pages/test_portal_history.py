"""The points history: filters kept in the address, an earning's breakdown, lifetime totals.

The invoices arrive as signed webhooks (``tests/levels/conftest.py``'s host), so the
breakdown read is the one the earning engine stored on the entry.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.customers import portal
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.ledger.accounts import account_for_host_customer, find_customer
from loyalty_plugin.services.spending.coupons import cancel_coupon
from tests.browser import LiveServer
from tests.levels.conftest import TIERS, Host, db, host  # noqa: F401 (fixtures)
from tests.pages.test_portal import BROWSER_BACKENDS

PORTAL = "/loyalty/portal"
SHOES = {"id": "L1", "name": "Shoes", "qty": 2, "total": "40.00"}
SOCKS = {"id": "L2", "name": "Socks", "qty": 1, "total": "10.00"}


def story(host: Host) -> None:  # noqa: F811
    """Points on every euro; an invoice of shoes and socks, one adjustment, one refund."""
    body = {"key": "main", "name": "Main", "status": "active",
            "rules": [{"kind": "per_amount", "points": "1", "per": "1"}]}  # fmt: skip
    host.api("POST", "/programs", body, scope="admin")
    host.pay("c1", "9001", "50.00", number="INV-2026-9001", items=[SHOES, SOCKS])
    host.pay("c1", "9002", "30.00", number="INV-2026-9002")
    host.give_points("c1", 100)
    host.refund("9002", "R1", "30.00")


def sign_in(app: Flask, client: Any, db: Session) -> None:  # noqa: F811
    customer = find_customer(db, "shop", "c1")
    token = portal.make_token(
        app.config["LOYALTY_SECRET_KEY"], merchant_id="shop", customer_id=customer.id,
        expires_at=utcnow() + timedelta(hours=1),
    )  # fmt: skip
    assert client.get(f"{PORTAL}/link/{token}").status_code == 303


def rows(page: bytes) -> list[str]:
    """The labels of the log's rows, top to bottom."""
    return re.findall(r'<span class="label">([^<]*)</span>', page.decode())


def test_an_earning_reads_its_breakdown_by_line(
    app: Flask,
    client: Any,
    host: Host,  # noqa: F811
    db: Session,  # noqa: F811
) -> None:
    """ "Shoes x2: 40 points, Socks: 10 points", as stored on the entry; no rule ids."""
    story(host)
    sign_in(app, client, db)
    page = client.get(f"{PORTAL}/points?kind=earned").data.decode()
    assert "Shoes \u00d72: 40 points" in page and "Socks: 10 points" in page
    assert "L1" not in page and "per_amount" not in page


def test_a_level_bonus_shows_its_own_points(
    app: Flask,
    client: Any,
    host: Host,  # noqa: F811
    db: Session,  # noqa: F811
) -> None:
    """At Gold (x1.5) 50.00 earns 75: "Shoes x2: 40, Socks: 10, Gold bonus x1.5: 25"."""
    body = {"key": "main", "name": "Main", "status": "active", "levels": {"tiers": TIERS},
            "rules": [{"kind": "per_amount", "points": "1", "per": "1"}]}  # fmt: skip
    host.api("POST", "/programs", body, scope="admin")
    host.pay("c1", "9000", "20000.00")
    assert host.level("c1")["level"] == "gold"
    host.pay("c1", "9001", "50.00", number="INV-2026-9001", items=[SHOES, SOCKS])
    sign_in(app, client, db)
    page = client.get(f"{PORTAL}/points?kind=earned").data.decode()
    assert "Shoes \u00d72: 40 points" in page and "Socks: 10 points" in page
    assert "Gold bonus \u00d71.5: 25 points" in page
    assert "Including your level bonus" not in page
    assert 'data-testid="lifetime-earned">20,075 points<' in page


def test_filters_by_kind_and_date_stay_in_the_address(
    app: Flask,
    client: Any,
    host: Host,  # noqa: F811
    db: Session,  # noqa: F811
) -> None:
    """Each kind shows its entries only; a date range outside them shows none."""
    story(host)
    sign_in(app, client, db)
    assert rows(client.get(f"{PORTAL}/points").data) == [
        "Points taken back (refund)",
        "Adjustment by our team",
        "Points earned",
        "Points earned",
    ]
    assert rows(client.get(f"{PORTAL}/points?kind=earned").data) == ["Points earned"] * 2
    assert rows(client.get(f"{PORTAL}/points?kind=adjusted").data) == ["Adjustment by our team"]
    assert rows(client.get(f"{PORTAL}/points?kind=refunded").data) == ["Points taken back (refund)"]
    assert rows(client.get(f"{PORTAL}/points?kind=expired").data) == []
    today = utcnow().date()
    inside = client.get(f"{PORTAL}/points?from={today - timedelta(days=1)}&to={today}")
    assert len(rows(inside.data)) == 4
    before = client.get(f"{PORTAL}/points?to={today - timedelta(days=2)}")
    assert rows(before.data) == [] and b"Nothing matches these filters." in before.data


def test_bad_filters_name_their_field(
    app: Flask,
    client: Any,
    host: Host,  # noqa: F811
    db: Session,  # noqa: F811
) -> None:
    """An unknown kind, a malformed date, an end before the start: 400 at the field."""
    story(host)
    sign_in(app, client, db)
    for query, field in (
        ("kind=everything", "kind"),
        ("from=31/05/2026", "from"),
        ("from=2026-06-02&to=2026-06-01", "to"),
    ):
        answer = client.get(f"{PORTAL}/points?{query}")
        assert answer.status_code == 400
        assert f'id="{field}-error" role="alert"'.encode() in answer.data


def test_lifetime_totals_and_pages_keep_the_filter(
    app: Flask,
    client: Any,
    host: Host,  # noqa: F811
    db: Session,  # noqa: F811
) -> None:
    """Earned, spent and expired since joining; "Older" keeps ``kind=earned``."""
    story(host)
    for n in range(25):
        host.pay("c1", f"8{n:03}", "1.00")
    account = account_for_host_customer(db, "shop", "c1")
    ledger.spend(db, account_id=account.id, points=20, now=utcnow(), actor="t")
    db.commit()
    sign_in(app, client, db)
    page = client.get(f"{PORTAL}/points?kind=earned").data.decode()
    # 50 and 25 x 1 earned; the refunded 30 was taken back; an adjustment is no earning.
    assert 'data-testid="lifetime-earned">75 points<' in page
    assert 'data-testid="lifetime-spent">20 points<' in page
    assert 'data-testid="lifetime-expired">0 points<' in page
    assert "kind=earned&amp;page=2" in page or "page=2&amp;kind=earned" in page


@BROWSER_BACKENDS
def test_filtering_and_reading_a_breakdown_in_the_browser(
    app: Flask,
    live_server: LiveServer,
    page: Page,
    host: Host,  # noqa: F811
    db: Session,  # noqa: F811
) -> None:
    """Choose "Earned", show: the address keeps it; open an earning's breakdown."""
    story(host)
    customer = find_customer(db, "shop", "c1")
    token = portal.make_token(
        app.config["LOYALTY_SECRET_KEY"], merchant_id="shop", customer_id=customer.id,
        expires_at=utcnow() + timedelta(hours=1),
    )  # fmt: skip
    page.goto(live_server.url(f"{PORTAL}/link/{token}"))
    page.get_by_role("link", name="Points history", exact=True).click()
    expect(page.get_by_test_id("lifetime-earned")).to_have_text("50 points")
    page.get_by_label("Kind").select_option("earned")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"/portal/points\?kind=earned"))
    expect(page.get_by_test_id("found")).to_have_text("2 entries found.")
    breakdown = page.get_by_test_id("breakdown").last
    breakdown.get_by_text("How these points were counted").click()
    expect(breakdown).to_contain_text("Shoes \u00d72: 40 points")
    expect(breakdown).to_contain_text("Socks: 10 points")
    page.reload()
    expect(page.get_by_label("Kind")).to_have_value("earned")
    page.get_by_label("Kind").select_option("adjusted")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_test_id("found")).to_have_text("1 entry found.")


def test_points_back_from_a_cancelled_coupon_say_so(
    app: Flask,
    client: Any,
    host: Host,  # noqa: F811
    db: Session,  # noqa: F811
) -> None:
    """A coupon cancelled by staff: "Points returned (coupon cancelled)", under "refunded"."""
    story(host)
    settings = {"coupon_conversion": True}
    host.api("PATCH", "/settings", settings, scope="admin")
    customer = find_customer(db, "shop", "c1")
    coupon = portal.convert(db, customer, points=50, form_key="k", now=utcnow())
    db.commit()
    cancel_coupon(db, merchant_id="shop", code=coupon.code, now=utcnow(), actor="staff:1 Bo")
    db.commit()
    sign_in(app, client, db)
    page = client.get(f"{PORTAL}/points?kind=refunded").data.decode()
    assert rows(page.encode()) == [
        "Points returned (coupon cancelled)",
        "Points taken back (refund)",
    ]
    assert f'Coupon <span class="id">{coupon.code}</span>' in page
