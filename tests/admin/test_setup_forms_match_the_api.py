"""The newer setup forms answer a bad value as the API does: the same field, the same
message, nothing changed (campaigns, the merchant's particulars)."""

from __future__ import annotations

import html
import re

from flask import Flask
from sqlalchemy import select

from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import CouponCampaign, Merchant
from tests.admin.test_campaigns_views import NEW
from tests.admin.test_spending_views import API, admin_key  # noqa: F401


def _message(page: bytes, field: str) -> str:
    """The text shown at ``field``'s error."""
    found = re.search(rf'id="f-{field}-error"[^>]*>([^<]*)<', page.decode())
    assert found, f"no message at {field}"
    return html.unescape(found.group(1)).strip()


def _same(page_message: str, api_message: str) -> bool:
    return page_message.rstrip(".").lower() == api_message.rstrip(".").lower()


def test_a_campaign_too_big_is_refused_as_the_api_refuses_it(
    app: Flask,
    admin_client,
    admin_key,  # noqa: F811
) -> None:
    manager = admin_client(role="manager")
    page = manager.post(manager.m("/campaigns"), data=NEW | {"count": "9000", "form_key": "x"})
    assert page.status_code == 422
    body = {"name": "Summer sale", "count": 9000, "kind": "percent", "percent": "10"}
    api = app.test_client().post(f"{API}/coupon-campaigns", json=body, headers=admin_key)
    assert api.status_code == 422
    assert _same(_message(page.data, "count"), api.json["error"]["fields"]["count"][0])
    with app.app_context():
        assert get_session().scalars(select(CouponCampaign)).all() == []


def test_a_bad_time_zone_or_locale_is_refused_as_the_api_refuses_it(
    app: Flask,
    admin_client,
    admin_key,  # noqa: F811
) -> None:
    owner = admin_client(role="owner")
    form = {"name": "Renamed", "currency": "EUR", "timezone": "Europe/Lisbon", "locale": "en"}
    for field, value in (("timezone", "Europe/Atlantis"), ("locale", "xx_YY")):
        page = owner.post(owner.m("/settings/merchant"), data=form | {field: value})
        assert page.status_code == 422
        assert 'value="Renamed"' in page.get_data(as_text=True)  # what the owner typed
        api = app.test_client().patch(f"{API}/merchant", json={field: value}, headers=admin_key)
        assert api.status_code == 422
        assert _same(_message(page.data, field), api.json["error"]["fields"][field][0])
    with app.app_context():
        assert get_session().get(Merchant, "shop").name != "Renamed"
