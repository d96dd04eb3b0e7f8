"""The customer desk at desktop and phone width: nothing overflows, and the pictures.

As ``tests/pages/test_screenshots.py`` does for the portal: with ``LOYALTY_SCREENSHOTS=1``
(``make screenshots``) the pictures replace ``docs/screenshots/admin-*.png``, which
[the admin pages](../../docs/admin.md#screenshots) show.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.cards import NumberScheme
from loyalty_plugin.domain.earning import InvoiceFacts, LineItem
from loyalty_plugin.models import Account, Card, Customer, StaffRole
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.audit import Actor
from loyalty_plugin.services.cards.batches import generate_cards
from loyalty_plugin.services.customers import actions
from loyalty_plugin.services.earning import awards
from loyalty_plugin.services.earning.programs import archive_program, create_program
from loyalty_plugin.services.spending.coupons import convert_points_to_coupon
from loyalty_plugin.services.spending.settings import update_settings
from loyalty_plugin.services.transaction import run_in_transaction
from tests.admin.test_desk_pages import shop, sign_in  # noqa: F401 (shop: a fixture)
from tests.browser import LiveServer
from tests.pages.test_screenshots import WIDTHS, at_width, look, shots  # noqa: F401 (shots)

PEOPLE = [
    ("Marta", "Oliveira", "marta.oliveira@example.com", "+351 912 345 678"),
    ("Jonas", "Becker", "jonas.becker@example.de", "+49 170 1234567"),
    ("Aiko", "Tanaka", "aiko@example.jp", None),
    ("Lucas", "Moreau", "l.moreau@example.fr", "+33 6 12 34 56 78"),
    ("Sofia", "Rossi", "sofia.rossi@example.it", None),
    ("Emre", "Yilmaz", "emre.yilmaz@example.com", "+90 532 123 45 67"),
    ("Nora", "Lindqvist", "nora@example.se", None),
    ("Pedro", "Alves", "pedro.alves@example.com", "+351 913 000 111"),
    ("Chloé", "Martin", "chloe.martin@example.fr", None),
    ("Daniel", "Novak", "d.novak@example.cz", "+420 601 123 456"),
]
TIERS = [
    {"key": "bronze", "name": "Bronze", "threshold": "0"},
    {"key": "silver", "name": "Silver", "threshold": "500", "multiplier": "1.25"},
    {"key": "gold", "name": "Gold", "threshold": "2000", "multiplier": "1.5"},
]


def story(session: Session) -> int:
    """Customers with invoices, a coupon, adjustments and one waiting; returns Marta's id."""
    now = utcnow()
    archive_program(session, merchant_id="shop", key="default", now=now - timedelta(days=90))
    create_program(
        session, merchant_id="shop", now=now - timedelta(days=90), actor="test",
        definition={"key": "main", "name": "Café points", "status": "active",
                    "rules": [{"id": "base", "kind": "per_amount", "points": "1", "per": "1"},
                              {"id": "beans", "kind": "product", "products": ["BEANS-1KG"],
                               "points_per_unit": "50"}],
                    "levels": {"tiers": TIERS, "measure": "points"}},
    )  # fmt: skip
    update_settings(session, merchant_id="shop", changes={"coupon_conversion": True},
                    now=now, actor="test")  # fmt: skip
    ids = []
    for number, (first, last, email, phone) in enumerate(PEOPLE, start=1):
        customer = Customer(
            merchant_id="shop", host_customer_id=str(1000 + number), first_name=first,
            last_name=last, email=email, phone=phone, customer_number=f"C-{4200 + number}",
            email_opt_in=number % 2 == 0, city="Lisboa", country="PT",
        )  # fmt: skip
        session.add(customer)
        session.flush()
        session.add(Account(merchant_id="shop", customer_id=customer.id))
        ids.append(customer.id)
    session.commit()
    marta = session.get(Customer, ids[0])
    for day, (invoice, total, beans) in enumerate(
        [("INV-1031", "86.40", 0), ("INV-1038", "142.90", 1), ("INV-1042", "318.00", 2)]
    ):
        lines = [LineItem(id="L1", qty=D(1), total=D(total) - 30 * beans)]
        if beans:
            lines.append(LineItem(id="L2", qty=D(beans), total=D(30 * beans),
                                  product_id="BEANS-1KG"))  # fmt: skip
        bill = InvoiceFacts(id=invoice, currency="EUR", total=D(total), items=tuple(lines))
        # The webhook's own earning call, which also moves the customer's level at once.
        run_in_transaction(session, lambda s, b=bill, d=day: awards.earn_with_programs(
            s, merchant_id="shop", customer=marta, facts=b, hooks=None,
            now=now - timedelta(days=40 - 12 * d)))  # fmt: skip
    for number, customer_id in enumerate(ids[1:], start=1):
        other = session.get(Customer, customer_id)
        bill = InvoiceFacts(id=f"INV-{2000 + number}", currency="EUR",
                            total=D(40 * number + 12), items=(LineItem(
                                id="L1", qty=D(1), total=D(40 * number + 12)),))  # fmt: skip
        run_in_transaction(session, lambda s, b=bill, c=other: awards.earn_with_programs(
            s, merchant_id="shop", customer=c, facts=b, hooks=None,
            now=now - timedelta(days=5)))  # fmt: skip
    run_in_transaction(session, lambda s: convert_points_to_coupon(
        s, merchant_id="shop", customer_id=marta.host_customer_id, points=100,
        now=now - timedelta(days=3), actor="portal", idempotency_key="shot-coupon"))  # fmt: skip
    bo = Actor.staff(2, "Bo Lind")
    batch = run_in_transaction(session, lambda s: generate_cards(
        s, merchant_id="shop", scheme=NumberScheme(prefix="2977"), count=2, actor=bo,
        now=now - timedelta(days=20)))  # fmt: skip
    card = session.scalars(select(Card.number).where(Card.batch_id == batch.id)).first()
    run_in_transaction(session, lambda s: actions.give_card(
        s, merchant_id="shop", customer_id=marta.id, number=card, actor=bo,
        now=now - timedelta(days=20)))  # fmt: skip
    run_in_transaction(session, lambda s: actions.adjust(
        s, merchant_id="shop", customer_id=marta.id, points=150,
        reason="Birthday cake was late", expires_at=None, actor=bo, role=StaffRole.MANAGER,
        form_key="shot-1", now=now - timedelta(days=1)))  # fmt: skip
    for customer_id, points, reason in (
        (marta.id, 1200, "Lost receipt, order 5531"),
        (ids[3], 800, "Catering order paid by bank transfer"),
    ):
        run_in_transaction(session, lambda s, c=customer_id, p=points, r=reason: actions.adjust(
            s, merchant_id="shop", customer_id=c, points=p, reason=r, expires_at=None,
            actor=bo, role=StaffRole.MANAGER, form_key=f"shot-{p}", now=now))  # fmt: skip
    return marta.id


@pytest.mark.backends("sqlite")
@pytest.mark.parametrize("width", WIDTHS)
def test_desk_pages_fit_the_screen(
    width: str,
    live_server: LiveServer,
    browser: Browser,
    shop: Session,  # noqa: F811 (the fixture)
    shots: Path,  # noqa: F811 (the fixture)
) -> None:
    """Customers, a customer and Approvals at desktop and phone width."""
    marta = story(shop)
    page = at_width(browser, width)()
    sign_in(page, live_server, "ana@cafe.example")
    page.goto(live_server.url("/loyalty/admin/m/shop/customers"))
    look(page, shots, f"admin-customers-{width}", "Customers")
    page.goto(live_server.url(f"/loyalty/admin/m/shop/customers/{marta}"))
    # Her invoices earned 606 points: Silver (500) at once, not at a later review.
    expect(page.locator(".level-now")).to_contain_text("Silver")
    expect(page.get_by_test_id("cards")).to_contain_text("assigned")
    page.get_by_test_id("breakdown").first.locator("summary").click()
    look(page, shots, f"admin-customer-{width}", "Marta Oliveira")
    actions_card = page.get_by_test_id("portal-email")
    expect(actions_card).to_contain_text("To marta.oliveira@example.com")
    page.get_by_test_id("customer-actions").screenshot(
        path=str(shots / f"admin-customer-actions-{width}.png")
    )
    actions_card.get_by_role("button", name="Send portal link by e-mail").click()
    expect(page.locator(".flash")).to_contain_text(
        "A portal link is on its way to marta.oliveira@example.com"
    )
    page.screenshot(path=str(shots / f"admin-customer-portal-email-{width}.png"))
    page.goto(live_server.url("/loyalty/admin/m/shop/approvals"))
    look(page, shots, f"admin-approvals-{width}", "Approvals")
