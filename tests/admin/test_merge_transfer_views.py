"""The merge and transfer pages: what they show, what they change, once, for whom."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select

from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import Account, AuditEntry, Customer, LedgerEntry
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.ledger.accounts import open_account
from loyalty_plugin.services.ledger.integrity import verify_ledger
from tests.admin.conftest import ensure_merchant


@pytest.fixture
def people(app: Flask) -> dict[str, int]:
    """Ana (a1: 30 points expiring in 10 days, 70 in 200) and Ben (b2: 5), record ids."""
    with app.app_context():
        ensure_merchant("shop")
        session, now = get_session(), utcnow()
        ids = {}
        for host, name, lots in (("a1", "Ana", ((30, 10), (70, 200))), ("b2", "Ben", ((5, 90),))):
            person = Customer(merchant_id="shop", host_customer_id=host, first_name=name)
            session.add(person)
            session.flush()
            account = open_account(session, merchant_id="shop", customer_id=person.id)
            for points, days in lots:
                ledger.earn(
                    session,
                    account_id=account.id,
                    points=points,
                    now=now - timedelta(days=1),
                    actor="test",
                    expires_at=now + timedelta(days=days),
                )
            ids[host] = person.id
        session.commit()
        return ids


def balances(app: Flask) -> dict[str, int]:
    with app.app_context():
        rows = get_session().execute(
            select(Customer.host_customer_id, Account.balance).join(
                Account, Account.customer_id == Customer.id
            )
        )
        return dict(rows.all())


def form_key(html: str) -> str:
    return re.search(r'name="form_key" value="([^"]+)"', html).group(1)


def test_transfer_checks_then_moves_once(app, admin_client, people) -> None:
    """Check shows the lots (30 expiring first, 10 of the 70); confirm twice moves once."""
    manager = admin_client(role="manager")
    page = manager.get(manager.m(f"/transfers/new?customer_id={people['a1']}"))
    assert page.status_code == 200
    assert 'value="a1"' in page.text
    form = {"from_customer_id": "a1", "to_customer_id": "b2", "points": "40", "reason": "gift"}
    checked = manager.post(manager.m("/transfers/new"), form | {"step": "check"})
    assert checked.status_code == 200
    assert 'data-testid="transfer-plan"' in checked.text
    assert balances(app) == {"a1": 100, "b2": 5}  # nothing moved yet
    confirm = form | {"step": "confirm", "form_key": form_key(checked.text)}
    done = manager.post(manager.m("/transfers/new"), confirm)
    again = manager.post(manager.m("/transfers/new"), confirm)
    assert (done.status_code, again.status_code) == (303, 303)
    assert balances(app) == {"a1": 60, "b2": 45}
    with app.app_context():
        session = get_session()
        assert (
            session.scalar(select(func.count()).where(AuditEntry.action == "points.transferred"))
            == 1
        )
        assert verify_ledger(session) == []
    shown = manager.get(done.headers["Location"])
    assert "40 points moved from Ana (a1) to Ben (b2)" in shown.text


def test_transfer_form_refusals_rerender_with_the_field(app, admin_client, people) -> None:
    """Too many points, an unknown receiver, no reason, not a number: 422 at the field."""
    manager = admin_client(role="manager")
    base = {"from_customer_id": "a1", "to_customer_id": "b2", "points": "40", "reason": "gift"}
    for change, field in (
        ({"points": "101"}, "points"),
        ({"points": "ten"}, "points"),
        ({"to_customer_id": "nobody"}, "to_customer_id"),
        ({"reason": ""}, "reason"),
        ({"to_customer_id": "a1"}, "to_customer_id"),
    ):
        answer = manager.post(manager.m("/transfers/new"), base | change | {"step": "check"})
        assert answer.status_code == 422, change
        assert f'id="f-{field}-error"' in answer.text, change
        assert 'value="gift"' in answer.text or change == {"reason": ""}
    assert balances(app) == {"a1": 100, "b2": 5}


def test_merge_page_finds_plans_and_merges(app, admin_client, people) -> None:
    """Search Ben from Ana's page, see what moves, merge Ben into Ana; a repeat is harmless."""
    manager = admin_client(role="manager")
    url = manager.m(f"/customers/{people['a1']}/merge")
    found = manager.get(url + "?q=Ben")
    assert found.status_code == 200
    assert f"other={people['b2']}" in found.text
    planned = manager.get(url + f"?other={people['b2']}&keep=this")
    assert 'data-testid="merge-plan"' in planned.text
    assert "Ben (b2)</strong> is merged into <strong>Ana (a1)" in planned.text
    assert balances(app) == {"a1": 100, "b2": 5}
    form = {"other": str(people["b2"]), "keep": "this", "form_key": form_key(planned.text)}
    merged = manager.post(url, form | {"reason": "same person"})
    assert merged.status_code == 303
    assert balances(app) == {"a1": 105, "b2": 0}
    again = manager.post(url, form)
    assert again.status_code == 303  # a second submit: already done, nothing changes
    assert "was already merged into Ana (a1)" in manager.get(again.headers["Location"]).text
    assert balances(app) == {"a1": 105, "b2": 0}
    # Ben's own merge page now refuses to merge him anywhere else.
    refused = manager.get(manager.m(f"/customers/{people['b2']}/merge?other={people['a1']}"))
    assert refused.status_code == 422
    with app.app_context():
        session = get_session()
        ben = session.get(Customer, people["b2"])
        assert ben.merged_into_id == people["a1"]
        assert (
            session.scalar(select(func.count()).where(AuditEntry.action == "customer.merged")) == 1
        )
        assert verify_ledger(session) == []


def test_merge_can_keep_the_other_record(app, admin_client, people) -> None:
    """From Ana's page, keep Ben: Ana's 100 points move to Ben."""
    manager = admin_client(role="owner")
    url = manager.m(f"/customers/{people['a1']}/merge")
    answer = manager.post(url, {"other": str(people["b2"]), "keep": "other", "form_key": "k"})
    assert answer.status_code == 303
    assert balances(app) == {"a1": 0, "b2": 105}


def test_staff_may_not_merge_or_transfer(app, admin_client, people) -> None:
    """The staff role gets 403 on both pages and both forms; nothing changes."""
    clerk = admin_client(role="staff")
    merge_url = clerk.m(f"/customers/{people['a1']}/merge")
    assert clerk.get(merge_url).status_code == 403
    assert clerk.post(merge_url, {"other": str(people["b2"])}).status_code == 403
    assert clerk.get(clerk.m("/transfers/new")).status_code == 403
    form = {"from_customer_id": "a1", "to_customer_id": "b2", "points": "5", "reason": "x"}
    assert (
        clerk.post(
            clerk.m("/transfers/new"), form | {"step": "confirm", "form_key": "k"}
        ).status_code
        == 403
    )
    assert balances(app) == {"a1": 100, "b2": 5}


def test_another_merchants_customer_is_not_found(app, admin_client, people) -> None:
    """A record of shop, asked for under other: 404, and nothing is learnt."""
    other = admin_client(role="owner", merchant="other")
    assert other.get(other.m(f"/customers/{people['a1']}/merge")).status_code == 404
    with app.app_context():
        assert get_session().scalar(select(func.count()).select_from(LedgerEntry)) == 3


def test_forms_without_csrf_change_nothing(app, admin_client, people) -> None:
    """A post without its CSRF value is refused; the points stay."""
    manager = admin_client(role="manager")
    form = {"from_customer_id": "a1", "to_customer_id": "b2", "points": "5", "reason": "x"}
    answer = manager.post(
        manager.m("/transfers/new"), form | {"step": "confirm", "form_key": "k"}, csrf=""
    )
    assert answer.status_code == 400
    merge = manager.post(
        manager.m(f"/customers/{people['a1']}/merge"), {"other": str(people["b2"])}, csrf=""
    )
    assert merge.status_code == 400
    assert balances(app) == {"a1": 100, "b2": 5}
