"""The Expiry and reminders screen with the test client; the same answers as the API."""

from __future__ import annotations

import html
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy import select

from loyalty_plugin.domain.notifications import Message
from loyalty_plugin.extensions import get_session
from loyalty_plugin.jobs.expiry import run_date_expiry
from loyalty_plugin.models import (
    Account,
    AuditEntry,
    Customer,
    ExpirySettings,
    NotificationSettings,
)
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.ledger.accounts import account_for_host_customer
from tests.admin.conftest import ensure_merchant
from tests.admin.test_spending_views import API, admin_key  # noqa: F401

POLICY = {
    "kind": "days_after_earning",
    "days": "365",
    "extra_months": "0",
    "fixed_date": "",
    "inactivity_months": "",
    "reminder_days": "30, 7",
}
EMAILS = {f"email_{m.value}": "1" for m in Message} | {"coupon_reminder_days": "7"}


def _audit(app: Flask, action: str) -> list[AuditEntry]:
    with app.app_context():
        return list(get_session().scalars(select(AuditEntry).where(AuditEntry.action == action)))


def _message(data: bytes, field: str) -> str:
    after = data.split(f'id="f-{field}-error" role="alert">'.encode())[1]
    return html.unescape(after.split(b"<")[0].decode())


def _same(page_message: str, api_message: object) -> bool:
    text = api_message[0] if isinstance(api_message, list) else api_message
    return page_message.rstrip(".").lower() == str(text).rstrip(".").lower()


def test_a_manager_sets_the_policy_and_reminders(app, admin_client) -> None:
    manager = admin_client(role="manager")
    answer = manager.post(manager.m("/expiry/policy"), data=POLICY | {"reminder_days": "7,30,14"})
    assert answer.status_code == 303
    page = manager.get(manager.m("/expiry"))
    assert b"Expiry policy saved" in page.data
    assert b'value="30, 14, 7"' in page.data
    with app.app_context():
        row = get_session().get(ExpirySettings, "shop")
        assert (row.kind.value, row.days, row.reminder_days) == (
            "days_after_earning",
            365,
            [30, 14, 7],
        )
    (entry,) = _audit(app, "expiry_policy.updated")
    assert entry.actor_kind == "staff"


@pytest.mark.parametrize(
    ("field", "form", "body"),
    [
        ("days", {"days": "0"}, {"kind": "days_after_earning", "days": 0}),
        ("reminder_days", {"reminder_days": "30, 0"},
         {"kind": "days_after_earning", "days": 365, "reminder_days": [30, 0]}),
        ("fixed_date", {"kind": "fixed_date", "fixed_date": ""}, {"kind": "fixed_date"}),
        ("extra_months", {"kind": "end_of_year", "extra_months": "200"},
         {"kind": "end_of_year", "extra_months": 200}),
    ],
)  # fmt: skip
def test_a_bad_policy_answers_as_the_api_does(app, admin_client, admin_key, field, form, body):  # noqa: F811
    manager = admin_client(role="manager")
    answer = manager.post(manager.m("/expiry/policy"), data=POLICY | form)
    assert answer.status_code == 422
    page_message = _message(answer.data, field)
    api = app.test_client().put(f"{API}/expiry-policy", json=body, headers=admin_key)
    assert api.status_code == 422
    fields = api.json["error"]["fields"]
    assert list(fields) == [field]
    assert _same(page_message, fields[field])
    with app.app_context():
        assert get_session().get(ExpirySettings, "shop") is None
    assert _audit(app, "expiry_policy.updated") == []


def test_a_manager_switches_an_email_off(app, admin_client, admin_key) -> None:  # noqa: F811
    manager = admin_client(role="manager")
    form = dict(EMAILS)
    del form["email_points_earned"]
    answer = manager.post(manager.m("/expiry/emails"), data=form | {"coupon_reminder_days": "5"})
    assert answer.status_code == 303
    with app.app_context():
        row = get_session().get(NotificationSettings, "shop")
        assert row is not None and row.coupon_reminder_days == 5
    api = app.test_client().get(f"{API}/email-switches", headers=admin_key).json
    assert api["enabled"]["points_earned"] is False and api["enabled"]["points_expiring"]
    assert len(_audit(app, "notifications.updated")) == 1
    bad = manager.post(manager.m("/expiry/emails"), data=EMAILS | {"coupon_reminder_days": "400"})
    assert bad.status_code == 422
    assert b'value="400"' in bad.data
    body = {"coupon_reminder_days": 400}
    refused = app.test_client().patch(f"{API}/email-switches", json=body, headers=admin_key)
    assert refused.status_code == 422
    assert _same(_message(bad.data, "coupon_reminder_days"),
                 refused.json["error"]["fields"]["coupon_reminder_days"])  # fmt: skip
    assert len(_audit(app, "notifications.updated")) == 1


def test_the_preview_is_what_the_job_then_expires(app, admin_client, admin_key) -> None:  # noqa: F811
    now = utcnow()
    with app.app_context():
        session = get_session()
        ensure_merchant("shop")
        for host_id, points in (("a", 120), ("b", 30)):
            session.add(
                Customer(
                    merchant_id="shop", host_customer_id=host_id, first_name="A", last_name="B"
                )
            )
            session.flush()
            account = account_for_host_customer(session, "shop", host_id)
            ledger.earn(session, account_id=account.id, points=points, now=now - timedelta(days=20),
                        actor="test", expires_at=now - timedelta(days=1))  # fmt: skip
            ledger.earn(session, account_id=account.id, points=5, now=now - timedelta(days=20),
                        actor="test", expires_at=now + timedelta(days=20))  # fmt: skip
        session.execute(sa.update(Account).values(created_at=now - timedelta(days=30)))
        session.commit()
    clerk = admin_client(role="staff")
    page = clerk.get(clerk.m("/expiry"))
    assert page.status_code == 200
    assert b'data-testid="preview-points">150<' in page.data
    assert b'data-testid="preview-customers">2<' in page.data
    ahead = clerk.get(clerk.m("/expiry?ahead=30"))
    assert b'data-testid="preview-points">160<' in ahead.data
    api = app.test_client().get(f"{API}/expiry-policy/preview", headers=admin_key).json
    assert (api["points"], api["customers"], api["lots"]) == (150, 2, 2)
    with app.app_context():
        done = run_date_expiry(get_session(), now=utcnow())
    assert (done.points, done.accounts, done.lots) == (150, 2, 2)
    assert b'data-testid="preview-points">0<' in clerk.get(clerk.m("/expiry")).data


def test_staff_read_but_change_nothing(app, admin_client) -> None:
    clerk = admin_client(role="staff")
    page = clerk.get(clerk.m("/expiry"))
    assert page.status_code == 200
    assert b'fieldset class="card" disabled' in page.data
    assert clerk.post(clerk.m("/expiry/policy"), data=POLICY).status_code == 403
    assert clerk.post(clerk.m("/expiry/emails"), data=EMAILS).status_code == 403


def test_a_manager_sets_how_long_store_credit_lasts(app, admin_client, admin_key) -> None:  # noqa: F811
    """With a credit wallet the screen shows the store credit form: 12 months is saved as
    ``PATCH /settings`` saves it (audited); 0 is refused with the API's message; empty
    is never again. A points-only merchant sees no such form."""
    manager = admin_client(role="manager")
    assert b'data-testid="credit-form"' not in manager.get(manager.m("/expiry")).data
    wallet = {"credit_currencies": ["EUR"]}
    assert app.test_client().patch(f"{API}/settings", json=wallet, headers=admin_key).json
    assert b'data-testid="credit-form"' in manager.get(manager.m("/expiry")).data
    answer = manager.post(manager.m("/expiry/credit"), data={"credit_expiry_months": "12"})
    assert answer.status_code == 303
    page = manager.get(manager.m("/expiry"))
    assert b"Store credit expiry saved" in page.data and b'value="12"' in page.data
    api = app.test_client().get(f"{API}/settings", headers=admin_key).json
    assert api["credit_expiry_months"] == 12
    (audit,) = [a for a in _audit(app, "settings.updated") if "credit_expiry_months" in a.after]
    assert (audit.before, audit.after) == (
        {"credit_expiry_months": None},
        {"credit_expiry_months": 12},
    )
    bad = manager.post(manager.m("/expiry/credit"), data={"credit_expiry_months": "0"})
    assert bad.status_code == 422 and b'value="0"' in bad.data
    body = {"credit_expiry_months": 0}
    refused = app.test_client().patch(f"{API}/settings", json=body, headers=admin_key)
    assert _same(_message(bad.data, "credit_expiry_months"),
                 refused.json["error"]["fields"]["credit_expiry_months"])  # fmt: skip
    never = manager.post(manager.m("/expiry/credit"), data={"credit_expiry_months": ""})
    assert never.status_code == 303
    api = app.test_client().get(f"{API}/settings", headers=admin_key).json
    assert api["credit_expiry_months"] is None
