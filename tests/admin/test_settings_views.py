"""Merchant settings with the test client: owners only; a bad value is answered at its
field, the same way ``PATCH /settings`` answers it, and changes nothing."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select

from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import AuditEntry, MerchantSettings
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.merchants.api_keys import create_api_key

API = "/loyalty/api/v1"


def _threshold(app: Flask) -> int | None:
    with app.app_context():
        row = get_session().get(MerchantSettings, "shop")
        return None if row is None else row.adjustment_approval_above


def _admin_key(app: Flask) -> str:
    with app.app_context():
        _, token = create_api_key(
            get_session(), merchant_id="shop", scope="admin", name="t", now=utcnow()
        )
        get_session().commit()
    return token


def test_an_owner_sets_the_approval_threshold_and_it_is_audited(app, admin_client) -> None:
    owner = admin_client()
    page = owner.get(owner.m("/settings"))
    assert page.status_code == 200 and "Approval needed above" in page.get_data(as_text=True)
    saved = owner.post(owner.m("/settings"), {"adjustment_approval_above": "500"})
    assert saved.status_code == 303
    assert "Settings saved." in owner.get(saved.headers["Location"]).get_data(as_text=True)
    assert _threshold(app) == 500
    cleared = owner.post(owner.m("/settings"), {"adjustment_approval_above": ""})
    assert cleared.status_code == 303
    assert _threshold(app) is None
    with app.app_context():
        actions = get_session().scalars(select(AuditEntry.action)).all()
    assert actions.count("settings.updated") == 2


@pytest.mark.parametrize(("typed", "sent"), [("0", 0), ("-5", -5), ("lots", "lots"),
                                             ("10000000000000", 10**13)])  # fmt: skip
def test_a_bad_threshold_is_answered_as_the_api_answers_it(
    app, admin_client, typed: str, sent: object
) -> None:
    owner = admin_client()
    owner.post(owner.m("/settings"), {"adjustment_approval_above": "500"})
    page = owner.post(owner.m("/settings"), {"adjustment_approval_above": typed})
    assert page.status_code == 422
    text = page.get_data(as_text=True)
    assert f'value="{typed}"' in text
    api = app.test_client().patch(
        f"{API}/settings",
        json={"adjustment_approval_above": sent},
        headers={"Authorization": f"Bearer {_admin_key(app)}"},
    )
    assert api.status_code == 422
    message = api.get_json()["error"]["fields"]["adjustment_approval_above"][0]
    assert f'id="f-adjustment_approval_above-error" role="alert">{message}</p>' in text
    assert _threshold(app) == 500


def test_managers_cannot_open_the_settings(admin_client) -> None:
    manager = admin_client(role="manager")
    assert manager.get(manager.m("/settings")).status_code == 403
    posted = manager.post(manager.m("/settings"), {"adjustment_approval_above": "1"})
    assert posted.status_code == 403


def test_an_owner_edits_the_merchant_and_the_currency_locks(app, admin_client) -> None:
    """Name, time zone (zoneinfo), locale and currency saved as PATCH /merchant saves them;
    a bad zone re-renders at its field; once points exist the currency is refused."""
    from sqlalchemy import select

    from loyalty_plugin.extensions import get_session
    from loyalty_plugin.models import Account, AuditEntry, Customer, Merchant
    from loyalty_plugin.models.base import utcnow
    from loyalty_plugin.services.ledger import entries as ledger

    owner = admin_client(role="owner")
    form = {"name": "Shop Porto", "currency": "usd", "timezone": "Europe/Lisbon", "locale": "pt_PT"}
    saved = owner.post(owner.m("/settings/merchant"), data=form)
    assert saved.status_code == 303
    page = owner.get(owner.m("/settings")).get_data(as_text=True)
    assert "Merchant saved." in page and 'value="Shop Porto"' in page
    assert '<option value="Europe/Lisbon" selected>' in page
    bad = owner.post(owner.m("/settings/merchant"), data=form | {"timezone": "Mars/Base"})
    assert bad.status_code == 422 and 'id="f-timezone-error"' in bad.get_data(as_text=True)
    with app.app_context():
        session = get_session()
        merchant = session.get(Merchant, "shop")
        assert (merchant.name, merchant.currency, merchant.timezone) == (
            "Shop Porto",
            "USD",
            "Europe/Lisbon",
        )
        person = Customer(merchant_id="shop", host_customer_id="42", first_name="Ana")
        session.add(person)
        session.flush()
        account = Account(merchant_id="shop", customer_id=person.id)
        session.add(account)
        session.flush()
        ledger.earn(session, account_id=account.id, points=10, now=utcnow(), actor="t")
        session.commit()
    locked = owner.post(owner.m("/settings/merchant"), data=form | {"currency": "EUR"})
    assert locked.status_code == 422
    text = locked.get_data(as_text=True)
    assert 'id="f-currency-error"' in text and "once points were recorded" in text
    assert "Fixed: points were recorded in it" in text
    with app.app_context():
        assert get_session().get(Merchant, "shop").currency == "USD"
        actions = list(get_session().scalars(select(AuditEntry.action)))
        assert actions.count("merchant.updated") == 1 and "notifications.updated" in actions
    manager = admin_client(role="manager")
    assert manager.post(manager.m("/settings/merchant"), data=form).status_code == 403


def test_an_owner_sets_an_exchange_rate_as_the_command_does(app, admin_client) -> None:
    """A rate from a day of the merchant is recorded (audited exchange_rate.set); a bad rate
    or the merchant's own currency re-renders at the field."""
    from loyalty_plugin.extensions import get_session
    from loyalty_plugin.models import ExchangeRate

    owner = admin_client(role="owner")
    form = {"currency": "usd", "rate": "0.92", "from": "2026-12-01"}
    assert owner.post(owner.m("/settings/rates"), data=form).status_code == 303
    page = owner.get(owner.m("/settings")).get_data(as_text=True)
    assert "1 USD = 0.92 from 2026-12-01 00:00 UTC." in page and "0.92 EUR" in page
    bad = owner.post(owner.m("/settings/rates"), data=form | {"rate": "lots"})
    assert bad.status_code == 422 and 'id="f-rate-error"' in bad.get_data(as_text=True)
    own = owner.post(owner.m("/settings/rates"), data=form | {"currency": "EUR"})
    assert own.status_code == 422 and "needs no rate" in own.get_data(as_text=True)
    with app.app_context():
        (rate,) = get_session().query(ExchangeRate).all()
        assert (rate.currency, str(rate.rate)[:4]) == ("USD", "0.92")
    assert _actions_of(app).count("exchange_rate.set") == 1
    manager = admin_client(role="manager")
    assert manager.post(manager.m("/settings/rates"), data=form).status_code == 403


def _actions_of(app) -> list[str]:
    from sqlalchemy import select

    from loyalty_plugin.extensions import get_session
    from loyalty_plugin.models import AuditEntry

    with app.app_context():
        return list(get_session().scalars(select(AuditEntry.action)))
