"""Store credit on the customer portal (#19): apart from points, in money, in the
customer's words and language; points-only customers see no change.

The credit is earned and taken back through signed webhooks (``tests/levels/conftest.py``'s
host) and expires by the set-based job, so the entries read are the ones the ledger writes.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from loyalty_plugin.domain.ledger import EntryKind
from loyalty_plugin.domain.notifications import NotificationPrefs
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.customers import portal
from loyalty_plugin.services.customers.portal_credit import CREDIT_SHOWN, credit_wallets
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.ledger.accounts import (
    account_for_host_customer,
    find_customer,
    open_account,
)
from loyalty_plugin.services.ledger.expiry import expire_due_batch
from loyalty_plugin.services.messaging.notifications import set_notification_prefs
from loyalty_plugin.services.spending.conversions import convert_points_to_credit
from loyalty_plugin.services.spending.credit_coupons import buy_coupon_with_credit
from tests.browser import LiveServer
from tests.levels.conftest import Host, db, host  # noqa: F401 (fixtures)
from tests.pages.test_portal import BROWSER_BACKENDS
from tests.pages.test_portal_history import rows, sign_in

PORTAL = "/loyalty/portal"
CASHBACK = [
    {"kind": "per_amount", "points": "1", "per": "1"},
    {"id": "cashback", "kind": "per_amount", "points": "0", "per": "1",
     "reward": {"credit_percent": "5", "instead_of_points": True}},
]  # fmt: skip


def credit_story(host: Host) -> None:  # noqa: F811
    """€4.20 earned 40 days ago, valid until yesterday; 5% back on 250.00 (12.50) and 250
    points; a refund of 50.00 takes back 2.50 and 50 points; the €4.20 expires."""
    settings = {"credit_currencies": ["EUR"], "credit_expiry_months": 12}
    host.api("PATCH", "/settings", settings, scope="admin")
    body = {"key": "main", "name": "Main", "status": "active", "rules": CASHBACK}
    host.api("POST", "/programs", body, scope="admin")
    host.send("customer.created", {"customer": {"id": "c1", "first_name": "Ana"}})
    customer = find_customer(host.db, "shop", "c1")
    credit = open_account(host.db, merchant_id="shop", customer_id=customer.id, unit="EUR")
    now = utcnow()
    ledger.earn(host.db, account_id=credit.id, points=420, now=now - timedelta(days=40),
                actor="t", expires_at=now - timedelta(days=1))  # fmt: skip
    host.db.commit()
    host.pay("c1", "9001", "250.00", number="INV-2026-9001")
    host.refund("9001", "R1", "50.00")
    expire_due_batch(host.db, now=now, merchant_id="shop")
    host.db.commit()


def test_credit_shows_apart_from_points_in_money(
    app: Flask,
    client: Any,
    host: Host,  # noqa: F811
    db: Session,  # noqa: F811
) -> None:
    """The overview's credit card says €10.00; the credit page lists the credit entries in
    the customer's words, signed money, newest first; points stay points."""
    credit_story(host)
    sign_in(app, client, db)
    overview = client.get(PORTAL).data.decode()
    assert 'data-testid="credit-EUR">€10.00<' in overview
    assert 'data-testid="balance">200<' in overview
    page = client.get(f"{PORTAL}/credit")
    assert page.status_code == 200
    assert rows(page.data) == [
        "Store credit expired",
        "Store credit taken back (refund)",
        "Store credit earned",
        "Store credit earned",
    ]
    text = page.data.decode()
    minus = "\u2212"  # the minus sign the portal writes
    for amount in (f"{minus}€4.20", "+€4.20", f"{minus}€2.50", "+€12.50", "€10.00"):
        assert amount in text, amount
    assert "INV-2026-9001" in text and "Valid until" in text
    assert "4 changes to your store credit, newest first." in text
    assert 'data-testid="credit-expired-EUR">€4.20<' in text
    assert "420" not in re.sub(r"<[^>]+>", " ", text)  # money, never minor units
    points = client.get(f"{PORTAL}/points").data
    assert "Store credit earned" not in rows(points) and "Points earned" in rows(points)
    assert f'href="{PORTAL}/credit"' in points.decode()  # the tab, on every page


def test_a_points_only_customer_sees_no_credit(
    app: Flask,
    client: Any,
    host: Host,  # noqa: F811
    db: Session,  # noqa: F811
) -> None:
    """No wallet: no credit card on the overview; the credit page says there is none."""
    host.api("POST", "/programs", {"key": "main", "name": "Main", "status": "active",
                                   "rules": CASHBACK[:1]}, scope="admin")  # fmt: skip
    host.pay("c1", "9001", "20.00")
    sign_in(app, client, db)
    overview = client.get(PORTAL).data.decode()
    assert "store credit" not in overview.lower() and 'data-testid="credit"' not in overview
    assert f'href="{PORTAL}/credit"' not in overview  # no tab
    assert "You have no store credit." in client.get(f"{PORTAL}/credit").data.decode()


@BROWSER_BACKENDS
def test_a_german_customer_reads_credit_in_german(
    app: Flask,
    live_server: LiveServer,
    page: Page,
    host: Host,  # noqa: F811
    db: Session,  # noqa: F811
) -> None:
    """In Chromium, in de_DE: "10,00 €" on the overview, German labels and plurals."""
    set_notification_prefs(
        db, merchant_id="shop", prefs=NotificationPrefs(locale="de_DE"), now=utcnow(),
        actor="t",
    )  # fmt: skip
    db.commit()
    credit_story(host)
    customer = find_customer(db, "shop", "c1")
    token = portal.make_token(
        app.config["LOYALTY_SECRET_KEY"], merchant_id="shop", customer_id=customer.id,
        expires_at=utcnow() + timedelta(hours=1),
    )  # fmt: skip
    db.commit()
    page.goto(live_server.url(f"{PORTAL}/link/{token}"))
    spaced = re.compile(r"10,00\s€")
    expect(page.get_by_test_id("credit-EUR")).to_have_text(spaced)
    page.get_by_role("link", name="Ihr Guthaben im Verlauf").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Guthaben")
    log = page.get_by_test_id("credit-log-EUR")
    expect(log).to_contain_text("Guthaben verfallen")
    expect(log).to_contain_text("Guthaben zurückgenommen (Erstattung)")
    expect(page.get_by_test_id("credit-count-EUR")).to_contain_text("4 Änderungen Ihres Guthabens")


def test_credit_held_for_an_order_reads_as_credit(
    host: Host,  # noqa: F811
    db: Session,  # noqa: F811
) -> None:
    """A hold of credit and its release read "Store credit reserved for an order" and
    "Reserved store credit returned" (no line of a credit account says "Points")."""
    host.send("customer.created", {"customer": {"id": "c1", "first_name": "Ana"}})
    customer = find_customer(db, "shop", "c1")
    credit = open_account(db, merchant_id="shop", customer_id=customer.id, unit="EUR")
    now = utcnow()
    ledger.earn(db, account_id=credit.id, points=1000, now=now, actor="t")
    held = ledger.spend(db, account_id=credit.id, points=150, now=now, actor="t",
                        kind=EntryKind.HOLD)  # fmt: skip
    ledger.reverse(db, entry_id=held.id, points=150, now=now, actor="t")
    db.commit()
    (wallet,) = credit_wallets(db, customer, now=now, lines=CREDIT_SHOWN)
    labels = [line.label for line in wallet.lines]
    assert labels == [
        "Reserved store credit returned",
        "Store credit reserved for an order",
        "Store credit earned",
    ]
    assert not [label for label in labels if "point" in label.lower()]
    assert [line.amount for line in wallet.lines] == [
        Decimal("1.50"),
        Decimal("-1.50"),
        Decimal("10.00"),
    ]


def test_points_turned_into_credit_read_as_such_on_both_pages(
    host: Host,  # noqa: F811
    db: Session,  # noqa: F811
) -> None:
    """A conversion reads "Points turned into store credit" in the points history and
    "Store credit from your points" on the credit page, not "Bonus points"."""
    settings = {"credit_currencies": ["EUR"], "points_to_credit_points": 100,
                "points_to_credit_amount": "1.00"}  # fmt: skip
    host.api("PATCH", "/settings", settings, scope="admin")
    host.send("customer.created", {"customer": {"id": "c1", "first_name": "Ana"}})
    customer = find_customer(db, "shop", "c1")
    points = account_for_host_customer(db, "shop", "c1")
    now = utcnow()
    ledger.earn(db, account_id=points.id, points=500, now=now, actor="t")
    convert_points_to_credit(db, merchant_id="shop", customer_id="c1", points=300, now=now,
                             actor="t")  # fmt: skip
    db.commit()
    (wallet,) = credit_wallets(db, customer, now=now, lines=CREDIT_SHOWN)
    assert [(line.label, line.amount) for line in wallet.lines] == [
        ("Store credit from your points", Decimal("3.00"))
    ]
    log = portal.points_log(db, points, page=1).lines
    assert log[0].label == "Points turned into store credit" and log[0].points == -300


def test_a_coupon_bought_with_credit_is_on_the_coupons_page(
    app: Flask,
    client: Any,
    host: Host,  # noqa: F811
    db: Session,  # noqa: F811
) -> None:
    """The portal's coupons list every coupon of the customer, bought with points or with
    store credit (it sits on the credit account); the credit page shows what it cost."""
    settings = {"credit_currencies": ["EUR"], "credit_coupons": True}
    host.api("PATCH", "/settings", settings, scope="admin")
    host.send("customer.created", {"customer": {"id": "c1", "first_name": "Ana"}})
    customer = find_customer(db, "shop", "c1")
    credit = open_account(db, merchant_id="shop", customer_id=customer.id, unit="EUR")
    now = utcnow()
    ledger.earn(db, account_id=credit.id, points=1000, now=now, actor="t")
    coupon = buy_coupon_with_credit(db, merchant_id="shop", customer_id="c1",
                                    amount=Decimal("5.00"), now=now, actor="t")  # fmt: skip
    db.commit()
    groups = portal.customer_coupons(db, customer, now=now)
    assert [c.code for c in groups.active] == [coupon.code]
    sign_in(app, client, db)
    assert coupon.code in client.get(f"{PORTAL}/coupons").data.decode()
    credit_page = client.get(f"{PORTAL}/credit").data.decode()
    assert "Store credit spent" in credit_page and coupon.code in credit_page
