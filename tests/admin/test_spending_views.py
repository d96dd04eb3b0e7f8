"""The Spending screen with the test client: settings, rewards; the same answers as the API."""

from __future__ import annotations

import html

import pytest
from flask import Flask
from sqlalchemy import select

from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import AuditEntry, MerchantSettings, Reward
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.merchants.api_keys import create_api_key
from tests.admin.conftest import ensure_merchant

API = "/loyalty/api/v1"

SETTINGS = {
    "conversion_points": "100",
    "conversion_amount": "1.00",
    "min_redeem_points": "0",
    "max_invoice_share": "100",
    "max_points_per_invoice": "",
    "coupon_conversion": "1",
    "coupon_points": "100",
    "coupon_amount": "1.00",
    "coupon_min_points": "0",
    "coupon_valid_days": "90",
    "coupon_packages": "",
}
REWARD = {
    "name": "Free coffee",
    "points": "300",
    "kind": "amount",
    "amount": "2.50",
    "stock": "",
    "per_customer_limit": "2",
    "coupon_valid_days": "30",
    "description": "",
}


@pytest.fixture
def admin_key(app: Flask):
    """An admin-scope API key of ``shop``: the bearer token."""
    with app.app_context():
        ensure_merchant("shop")
        session = get_session()
        _, token = create_api_key(
            session, merchant_id="shop", scope="admin", name="host", now=utcnow()
        )
        session.commit()
    return {"Authorization": f"Bearer {token}"}


def _stored(app: Flask) -> MerchantSettings | None:
    with app.app_context():
        return get_session().get(MerchantSettings, "shop")


def _audit(app: Flask, action: str) -> list[AuditEntry]:
    with app.app_context():
        return list(get_session().scalars(select(AuditEntry).where(AuditEntry.action == action)))


def _rewards(app: Flask) -> list[tuple[str, int, int | None]]:
    with app.app_context():
        rows = get_session().scalars(select(Reward).order_by(Reward.id))
        return [(r.name, r.points, r.per_customer_limit) for r in rows]


def test_a_manager_sets_coupon_conversion_with_a_minimum(app, admin_client) -> None:
    manager = admin_client(role="manager")
    form = SETTINGS | {"coupon_min_points": "500", "coupon_packages": "500 = 5\n1000 = 12.50"}
    answer = manager.post(manager.m("/spending/settings"), data=form)
    assert answer.status_code == 303
    page = manager.get(manager.m("/spending"))
    assert b"Spending settings saved." in page.data
    assert b'value="500"' in page.data
    assert b"1000 = 12.50" in page.data
    stored = _stored(app)
    assert stored is not None and stored.coupon_min_points == 500
    assert [p["points"] for p in stored.coupon_packages] == [500, 1000]
    (entry,) = _audit(app, "settings.updated")
    assert entry.actor_kind == "staff"
    assert entry.after["coupon_min_points"] == 500


@pytest.mark.parametrize(
    ("field", "value"),
    [("max_invoice_share", "150"), ("conversion_points", "0"), ("coupon_valid_days", "0"),
     ("conversion_amount", "abc"), ("coupon_min_points", "-5")],
)  # fmt: skip
def test_a_bad_setting_answers_as_the_api_does(app, admin_client, admin_key, field, value):
    """The page re-renders with the API's message at the field; neither changes anything."""
    manager = admin_client(role="manager")
    answer = manager.post(manager.m("/spending/settings"), data=SETTINGS | {field: value})
    assert answer.status_code == 422
    assert f'value="{value}"'.encode() in answer.data
    page_error = answer.data.split(f'id="f-{field}-error" role="alert">'.encode())[1]
    page_message = html.unescape(page_error.split(b"<")[0].decode())
    body = {field: int(value) if value.lstrip("-").isdigit() else value}
    api = app.test_client().patch(f"{API}/settings", json=body, headers=admin_key)
    assert api.status_code == 422
    api_fields = api.json["error"]["fields"]
    assert list(api_fields) == [field]
    api_message = api_fields[field][0] if isinstance(api_fields[field], list) else api_fields[field]
    assert page_message.rstrip(".").lower() == str(api_message).rstrip(".").lower()
    assert _stored(app) is None
    assert _audit(app, "settings.updated") == []


def test_a_manager_adds_a_reward_and_withdraws_it(app, admin_client) -> None:
    manager = admin_client(role="manager")
    answer = manager.post(manager.m("/spending/rewards"), data=REWARD | {"form_key": "r1"})
    assert answer.status_code == 303
    assert _rewards(app) == [("Free coffee", 300, 2)]
    page = manager.get(manager.m("/spending"))
    assert b"Free coffee is in the catalogue for 300 points." in page.data
    assert b'data-reward="' in page.data
    assert len(_audit(app, "reward.created")) == 1
    with app.app_context():
        reward_id = get_session().scalars(select(Reward.id)).one()
    answer = manager.post(manager.m(f"/spending/rewards/{reward_id}/active"), data={"active": ""})
    assert answer.status_code == 303
    with app.app_context():
        assert get_session().get(Reward, reward_id).active is False
    assert len(_audit(app, "reward.updated")) == 1


def test_a_double_submit_adds_the_reward_once(app, admin_client) -> None:
    manager = admin_client(role="manager")
    for _ in range(2):
        answer = manager.post(manager.m("/spending/rewards"), data=REWARD | {"form_key": "same"})
        assert answer.status_code == 303
    assert _rewards(app) == [("Free coffee", 300, 2)]
    assert len(_audit(app, "reward.created")) == 1


def test_a_bad_reward_answers_as_the_api_does(app, admin_client, admin_key) -> None:
    manager = admin_client(role="manager")
    answer = manager.post(manager.m("/spending/rewards"), data=REWARD | {"points": "0"})
    assert answer.status_code == 422
    assert b'value="Free coffee"' in answer.data
    page_message = answer.data.split(b'id="f-points-error" role="alert">')[1].split(b"<")[0]
    body = {"name": "Free coffee", "points": 0, "kind": "amount", "amount": "2.50",
            "currency": "EUR"}  # fmt: skip
    api = app.test_client().post(f"{API}/rewards", json=body, headers=admin_key)
    assert api.status_code == 422
    api_message = api.json["error"]["fields"]["points"][0]
    assert page_message.decode().rstrip(".").lower() == api_message.rstrip(".").lower()
    assert _rewards(app) == []


def test_staff_read_the_settings_but_change_nothing(app, admin_client) -> None:
    clerk = admin_client(role="staff")
    page = clerk.get(clerk.m("/spending"))
    assert page.status_code == 200
    assert b'fieldset class="card" disabled' in page.data
    assert b"Add a reward" not in page.data
    assert clerk.post(clerk.m("/spending/settings"), data=SETTINGS).status_code == 403
    assert clerk.post(clerk.m("/spending/rewards"), data=REWARD).status_code == 403
    assert _stored(app) is None and _rewards(app) == []


def test_reward_dates_are_the_merchants_days_and_edited(app, admin_client) -> None:
    """Added with a last day, edited to start later: the stored moments are the merchant's
    midnights; an end before the start re-renders at its field and changes nothing."""
    manager = admin_client(role="manager")
    form = REWARD | {"form_key": "d1", "active_from": "", "active_until": "2031-12-31"}
    assert manager.post(manager.m("/spending/rewards"), data=form).status_code == 303
    with app.app_context():
        reward = get_session().scalars(select(Reward)).one()
        assert reward.active_from is None
        assert reward.active_until.isoformat() == "2032-01-01T00:00:00+00:00"
    editor = manager.get(manager.m(f"/spending/rewards/{reward.id}"))
    assert editor.status_code == 200 and b'value="2031-12-31"' in editor.data
    edit = {
        "name": "Free coffee",
        "points": "300",
        "stock": "",
        "per_customer_limit": "2",
        "coupon_valid_days": "30",
        "description": "",
        "active_from": "2031-12-01",
        "active_until": "2031-12-31",
    }
    saved = manager.post(manager.m(f"/spending/rewards/{reward.id}"), data=edit)
    assert saved.status_code == 303
    listing = manager.get(manager.m("/spending")).get_data(as_text=True)
    assert "Free coffee saved." in listing and "from Dec 1, 2031" in listing
    assert "until Dec 31, 2031" in listing and "not yet" in listing
    wrong = manager.post(
        manager.m(f"/spending/rewards/{reward.id}"), data=edit | {"active_until": "2031-11-01"}
    )
    assert wrong.status_code == 422
    page = html.unescape(wrong.get_data(as_text=True))
    assert 'id="f-active_until-error"' in page and "The end must be after the start." in page
    assert 'value="2031-11-01"' in page
    bad = manager.post(
        manager.m(f"/spending/rewards/{reward.id}"), data=edit | {"active_from": "1 Dec"}
    )
    assert bad.status_code == 422 and b'id="f-active_from-error"' in bad.data
    with app.app_context():
        stored = get_session().get(Reward, reward.id)
        assert stored.active_from.isoformat() == "2031-12-01T00:00:00+00:00"
    clerk = admin_client(role="staff")
    assert clerk.get(clerk.m(f"/spending/rewards/{reward.id}")).status_code == 403
    assert manager.get(manager.m("/spending/rewards/999999")).status_code == 404


CREDIT = {
    "credit_max_invoice_share": "40",
    "credit_coupons": "1",
    "points_to_credit_points": "100",
    "points_to_credit_amount": "0.80",
}


def _field_message(data: bytes, field: str) -> str:
    error = data.split(f'id="f-{field}-error" role="alert">'.encode())[1]
    return html.unescape(error.split(b"<")[0].decode())


def test_a_manager_sets_how_store_credit_is_spent(app, admin_client, admin_key) -> None:
    """With a credit wallet the screen shows the Store credit form: saved as ``PATCH
    /settings`` saves it (audited); empty points turn the conversion off. A points-only
    merchant sees no such form."""
    manager = admin_client(role="manager")
    assert b'data-testid="credit-form"' not in manager.get(manager.m("/spending")).data
    wallet = {"credit_currencies": ["EUR"]}
    assert app.test_client().patch(f"{API}/settings", json=wallet, headers=admin_key).json
    assert b'data-testid="credit-form"' in manager.get(manager.m("/spending")).data
    answer = manager.post(manager.m("/spending/credit"), data=CREDIT)
    assert answer.status_code == 303 and answer.location.endswith("/spending#credit")
    page = manager.get(manager.m("/spending"))
    assert b"Store credit settings saved." in page.data
    assert b"100 points become" in page.data
    api = app.test_client().get(f"{API}/settings", headers=admin_key).json
    assert (api["credit_max_invoice_share"], api["credit_coupons"]) == ("40.00", True)
    assert (api["points_to_credit_points"], api["points_to_credit_amount"]) == (100, "0.80")
    (audit,) = [a for a in _audit(app, "settings.updated") if "credit_coupons" in a.after]
    assert audit.actor_kind == "staff"
    assert (audit.before["credit_coupons"], audit.after["credit_coupons"]) == (False, True)
    assert audit.after["points_to_credit_points"] == 100
    off = {"credit_max_invoice_share": "40", "points_to_credit_points": ""}
    assert manager.post(manager.m("/spending/credit"), data=off).status_code == 303
    api = app.test_client().get(f"{API}/settings", headers=admin_key).json
    assert (api["points_to_credit_points"], api["credit_coupons"]) == (None, False)
    assert api["points_to_credit_amount"] == "0.80"
    assert b"points cannot be turned into credit" in manager.get(manager.m("/spending")).data


@pytest.mark.parametrize(
    ("field", "value"),
    [("credit_max_invoice_share", "150"), ("points_to_credit_points", "0"),
     ("points_to_credit_amount", "0"), ("credit_max_invoice_share", "abc")],
)  # fmt: skip
def test_a_bad_credit_setting_answers_as_the_api_does(
    app, admin_client, admin_key, field, value
) -> None:
    """A refused value re-renders the form with what was typed and the API's message at
    its field (422); nothing changes and nothing is audited."""
    wallet = {"credit_currencies": ["EUR"]}
    assert app.test_client().patch(f"{API}/settings", json=wallet, headers=admin_key).json
    audits = len(_audit(app, "settings.updated"))
    manager = admin_client(role="manager")
    answer = manager.post(manager.m("/spending/credit"), data=CREDIT | {field: value})
    assert answer.status_code == 422
    assert f'value="{value}"'.encode() in answer.data
    other = (
        "points_to_credit_points"
        if field != "points_to_credit_points"
        else "credit_max_invoice_share"
    )
    assert f'value="{CREDIT[other]}"'.encode() in answer.data
    body = {field: int(value) if field == "points_to_credit_points" else value}
    api = app.test_client().patch(f"{API}/settings", json=body, headers=admin_key)
    assert api.status_code == 422
    api_message = api.json["error"]["fields"][field]
    api_message = api_message[0] if isinstance(api_message, list) else api_message
    page_message = _field_message(answer.data, field)
    assert page_message.rstrip(".").lower() == str(api_message).rstrip(".").lower()
    stored = _stored(app)
    assert stored is not None and stored.points_to_credit_points is None
    assert stored.credit_coupons is False
    assert len(_audit(app, "settings.updated")) == audits


def test_staff_read_store_credit_but_change_nothing(app, admin_client, admin_key) -> None:
    """A staff member sees the Store credit form disabled, and a post is refused (403)."""
    wallet = {"credit_currencies": ["EUR"]}
    assert app.test_client().patch(f"{API}/settings", json=wallet, headers=admin_key).json
    clerk = admin_client(role="staff")
    page = clerk.get(clerk.m("/spending"))
    assert b'data-testid="credit-form"' in page.data
    assert b"Save store credit settings" not in page.data
    assert clerk.post(clerk.m("/spending/credit"), data=CREDIT).status_code == 403
    stored = _stored(app)
    assert stored is not None and stored.credit_coupons is False
