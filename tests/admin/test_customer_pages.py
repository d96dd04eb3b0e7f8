"""The Customers and Approvals pages through the test client, on every backend."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import Account, Adjustment, AdjustmentStatus, Customer
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.spending.settings import update_settings
from tests.admin.conftest import ensure_merchant


@pytest.fixture
def people(app: Flask) -> Callable[..., int]:
    """``people("Ana", "Silva", points=100)``: a customer of ``shop``; returns our row id."""

    def make(first: str, last: str | None = None, *, points: int = 0, merchant: str = "shop",
             host_id: str | None = None, **more: Any) -> int:  # fmt: skip
        with app.app_context():
            ensure_merchant(merchant)
            session = get_session()
            customer = Customer(
                merchant_id=merchant, host_customer_id=host_id or f"h-{first}-{last}",
                first_name=first, last_name=last, **more,
            )  # fmt: skip
            session.add(customer)
            session.flush()
            account = Account(merchant_id=merchant, customer_id=customer.id)
            session.add(account)
            session.flush()
            if points:
                ledger.earn(session, account_id=account.id, points=points, now=utcnow(),
                            actor="test")  # fmt: skip
            session.commit()
            return customer.id

    return make


def limit(app: Flask, points: int | None) -> None:
    with app.app_context():
        ensure_merchant("shop")
        changes = {"adjustment_approval_above": points}
        update_settings(get_session(), merchant_id="shop", changes=changes, now=utcnow(), actor="t")
        get_session().commit()


def test_search_finds_pages_and_keeps_the_query(admin_client, people) -> None:
    """The list searches by the query string, pages in the URL, and links each customer."""
    ana = people("Ana", "Silva", email="ana@example.com", points=1500)
    people("Bruno", "Costa")
    staff = admin_client(role="staff")
    page = staff.get(staff.m("/customers?q=silva"))
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Ana Silva" in html and "Bruno" not in html
    assert f"/customers/{ana}" in html
    assert 'value="silva"' in html
    assert "1,500" in html
    everyone = staff.get(staff.m("/customers")).get_data(as_text=True)
    assert "Ana Silva" in everyone and "Bruno Costa" in everyone
    assert page.headers["Cache-Control"].startswith("no-store")


def test_a_bad_search_is_422_at_the_field(admin_client) -> None:
    """Too long a query re-renders the form with the message at the field."""
    staff = admin_client(role="staff")
    page = staff.get(staff.m("/customers?q=" + "x" * 101))
    assert page.status_code == 422
    assert 'id="f-q-error"' in page.get_data(as_text=True)


def test_the_customer_page_shows_the_balance(admin_client, people) -> None:
    """The page shows the balance and the log; another merchant's customer is 404."""
    ana = people("Ana", "Silva", points=250)
    theirs = people("Zed", merchant="other", points=5)
    staff = admin_client(role="staff")
    page = staff.get(staff.m(f"/customers/{ana}"))
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-testid="balance-total">250<' in html
    assert "Points earned" in html
    assert staff.get(staff.m(f"/customers/{theirs}")).status_code == 404
    assert staff.get(staff.m("/customers/999999")).status_code == 404


def test_a_refused_adjustment_shows_what_was_typed(admin_client, people) -> None:
    """A reason left out: 422, the points typed are kept, the message is at the reason."""
    ana = people("Ana", points=10)
    manager = admin_client(role="manager")
    page = manager.post(manager.m(f"/customers/{ana}/adjust"),
                        data={"points": "75", "reason": " ", "form_key": "k1"})  # fmt: skip
    assert page.status_code == 422
    html = page.get_data(as_text=True)
    assert 'id="adjust-points" name="points" type="text" value="75"' in html
    assert re.search(r'id="adjust-reason-error"[^>]*>Reason is required', html)
    bad = manager.post(manager.m(f"/customers/{ana}/adjust"),
                       data={"points": "7.5", "reason": "x", "form_key": "k2"})  # fmt: skip
    assert bad.status_code == 422
    assert 'id="adjust-points-error"' in bad.get_data(as_text=True)


def test_adjust_over_the_limit_waits_and_another_manager_approves(
    app: Flask, admin_client, people, staff_member
) -> None:
    """A manager's 900 over a 500 limit waits; they cannot approve it themselves; a second
    manager approves from the Approvals page; a double submit asked once."""
    limit(app, 500)
    ana = people("Ana", "Silva")
    first = admin_client(role="manager")
    form = {"points": "900", "reason": "lost receipt", "form_key": "once"}
    answer = first.post(first.m(f"/customers/{ana}/adjust"), data=form)
    assert answer.status_code == 303
    again = first.post(first.m(f"/customers/{ana}/adjust"), data=form)
    assert again.status_code == 303
    page = first.get(first.m(f"/customers/{ana}")).get_data(as_text=True)
    assert "wait for a second staff member" in page
    assert 'data-testid="pending-adjustments"' in page
    with app.app_context():
        [waiting] = get_session().scalars(select(Adjustment)).all()
    mine = first.get(first.m("/approvals")).get_data(as_text=True)
    assert "You asked for this" in mine
    refused = first.post(first.m(f"/approvals/{waiting.id}/approve"), data={})
    assert refused.status_code == 422
    second = admin_client(role="manager")
    listed = second.get(second.m("/approvals")).get_data(as_text=True)
    assert "lost receipt" in listed and f'data-testid="approve-{waiting.id}"' in listed
    done = second.post(second.m(f"/approvals/{waiting.id}/approve"), data={"note": "seen"})
    assert done.status_code == 303
    with app.app_context():
        session = get_session()
        assert session.get(Adjustment, waiting.id).status == AdjustmentStatus.APPLIED
        assert session.scalar(select(Account.balance).where(Account.customer_id == ana)) == 900


def test_staff_may_read_and_ask_but_not_decide_or_give(admin_client, people, app) -> None:
    """Staff adjustments always wait; staff cannot approve, give levels or switch consent."""
    ana = people("Ana")
    staff = admin_client(role="staff")
    asked = staff.post(staff.m(f"/customers/{ana}/adjust"),
                       data={"points": "5", "reason": "sorry", "form_key": "s1"})  # fmt: skip
    assert asked.status_code == 303
    with app.app_context():
        [waiting] = get_session().scalars(select(Adjustment)).all()
        assert waiting.status == AdjustmentStatus.PENDING
    for path in (f"/approvals/{waiting.id}/approve", f"/customers/{ana}/consent",
                 f"/customers/{ana}/level", f"/customers/{ana}/portal-link"):  # fmt: skip
        assert staff.post(staff.m(path), data={}).status_code == 403


def test_consent_and_portal_link(admin_client, people, app) -> None:
    """A manager records consent (the page then says so) and gets a portal link to copy."""
    ana = people("Ana")
    manager = admin_client(role="manager")
    switched = manager.post(manager.m(f"/customers/{ana}/consent"),
                            data={"channel": "email", "given": "yes"})  # fmt: skip
    assert switched.status_code == 303
    with app.app_context():
        assert get_session().get(Customer, ana).email_opt_in is True
    linked = manager.post(manager.m(f"/customers/{ana}/portal-link"), data={})
    assert linked.status_code == 200
    assert "/portal/link/" in linked.get_data(as_text=True)
    bad = manager.post(manager.m(f"/customers/{ana}/consent"), data={"channel": "fax"})
    assert bad.status_code == 422


def test_a_merged_record_points_to_its_survivor(admin_client, people, app) -> None:
    """A record merged into another says so in the list and on its page, with a link."""
    old = people("Ana", "Old")
    survivor = people("Ana", "New")
    with app.app_context():
        session = get_session()
        session.get(Customer, old).merged_into_id = survivor
        session.commit()
    staff = admin_client(role="staff")
    assert "merged" in staff.get(staff.m("/customers?q=ana old")).get_data(as_text=True)
    page = staff.get(staff.m(f"/customers/{old}")).get_data(as_text=True)
    assert 'data-testid="merged-into"' in page
    assert f"/customers/{survivor}" in page
