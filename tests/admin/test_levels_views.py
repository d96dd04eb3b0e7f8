"""The Membership levels screen with the test client: a new program version; the API's answers."""

from __future__ import annotations

import html

from flask import Flask
from sqlalchemy import select

from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import AuditEntry, Program, ProgramVersion
from tests.admin.test_spending_views import API, admin_key  # noqa: F401

SILVER_GOLD = {
    "rows": "3",
    "measure": "money",
    "period": "lifetime",
    "days": "365",
    "downgrade": "below_threshold",
    "grace_days": "0",
    "redeem_at": "current_level",
    "t0_key": "bronze", "t0_name": "Bronze", "t0_threshold": "0",
    "t1_key": "silver", "t1_name": "Silver", "t1_threshold": "500",
    "t1_value_points": "100", "t1_value_amount": "1.50", "t1_max_share_percent": "30",
    "t1_price_points": "800", "t1_duration_days": "30",
    "t2_key": "gold", "t2_name": "Gold", "t2_threshold": "2000", "t2_multiplier": "1.5",
    "t2_discount_percent": "10", "t2_discount_categories": "shoes, bags",
}  # fmt: skip


def _versions(app: Flask) -> list[ProgramVersion]:
    with app.app_context():
        return list(get_session().scalars(select(ProgramVersion).order_by(ProgramVersion.number)))


def _key(app: Flask) -> str:
    with app.app_context():
        return (
            get_session().scalars(select(Program.key).where(Program.merchant_id == "shop")).first()
        )


def test_a_manager_adds_silver_and_gold(app, admin_client) -> None:
    manager = admin_client(role="manager")
    assert manager.get(manager.m("/levels")).status_code == 200
    before = len(_versions(app))
    key = _key(app)
    answer = manager.post(manager.m("/levels"), data=SILVER_GOLD | {"program": key})
    assert answer.status_code == 303, answer.data[:2000]
    page = manager.get(answer.headers["Location"])
    assert b"Levels saved" in page.data
    assert b'data-level="gold"' in page.data
    versions = _versions(app)
    levels = versions[-1].settings["levels"]
    assert [t["key"] for t in levels["tiers"]] == ["bronze", "silver", "gold"]
    assert levels["tiers"][2]["discounts"][0]["categories"] == ["shoes", "bags"]
    assert len(versions) >= before
    with app.app_context():
        actions = get_session().scalars(select(AuditEntry.action)).all()
    assert "program.updated" in actions


def test_a_bad_level_answers_as_the_api_does(app, admin_client, admin_key) -> None:  # noqa: F811
    manager = admin_client(role="manager")
    key = _key(app)
    form = SILVER_GOLD | {"program": key, "t0_threshold": "100"}
    answer = manager.post(manager.m("/levels"), data=form)
    assert answer.status_code == 422
    assert b'value="100"' in answer.data
    after = answer.data.split(b'id="f-t0_threshold-error" role="alert">')[1]
    page_message = html.unescape(after.split(b"<")[0].decode())
    tiers = [
        {"key": "bronze", "name": "Bronze", "threshold": "100"},
        {"key": "silver", "name": "Silver", "threshold": "500"},
    ]
    body = {"levels": {"tiers": tiers}}
    api = app.test_client().patch(f"{API}/programs/{key}", json=body, headers=admin_key)
    assert api.status_code == 422
    (path, messages), *_ = api.json["error"]["fields"].items()
    assert page_message.rstrip(".").lower() == messages[0].rstrip(".").lower()
    assert path.startswith("levels")


def test_staff_read_the_levels_but_change_nothing(app, admin_client) -> None:
    clerk = admin_client(role="staff")
    page = clerk.get(clerk.m("/levels"))
    assert page.status_code == 200
    assert b"Save the levels" not in page.data
    assert clerk.post(clerk.m("/levels"), data=SILVER_GOLD).status_code == 403
