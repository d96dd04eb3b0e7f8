"""The Bonus campaigns screen with the test client (#18): a manager makes a campaign and
ends it; a bad value is shown at its field, as the API names it; staff only read."""

from __future__ import annotations

import html
import re

from flask import Flask
from sqlalchemy import select

from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import AuditEntry, BonusCampaign

NEW = {
    "name": "3x on Shoes",
    "key": "shoes-weekend",
    "program": "",
    "starts_at": "2031-06-06T00:00",
    "ends_at": "2031-06-08T00:00",
    "gives": "multiplier",
    "multiplier": "3",
    "points": "",
    "budget": "1000",
    "budget_per_customer": "100",
    "priority": "0",
    "conditions": '{"what": {"categories": ["shoes"]}}',
}


def _message(page: bytes, field: str) -> str:
    found = re.search(rf'id="f-{field}-error"[^>]*>([^<]*)<', page.decode())
    assert found, f"no message at {field}"
    return html.unescape(found.group(1)).strip()


def _campaigns(app: Flask) -> list[BonusCampaign]:
    with app.app_context():
        return list(get_session().scalars(select(BonusCampaign)))


def test_a_manager_makes_and_ends_a_bonus_campaign(app: Flask, admin_client) -> None:
    manager = admin_client(role="manager")
    made = manager.post(manager.m("/bonus-campaigns"), data=NEW)
    assert made.status_code == 303, made.get_data(as_text=True)
    (campaign,) = _campaigns(app)
    assert (campaign.key, campaign.multiplier, campaign.budget) == ("shoes-weekend", 3, 1000)
    assert campaign.starts_at.isoformat() == "2031-06-06T00:00:00+00:00"  # shop keeps UTC
    assert campaign.conditions == {"what": {"categories": ["shoes"]}}
    page = manager.get(made.headers["Location"]).get_data(as_text=True)
    assert "3x on Shoes saved." in page and "1,000 of 1,000" in page and "scheduled" in page
    ended = manager.post(manager.m("/bonus-campaigns/shoes-weekend/end"))
    assert ended.status_code == 303
    page = manager.get(ended.headers["Location"]).get_data(as_text=True)
    assert "3x on Shoes has ended." in page
    with app.app_context():
        actions = set(get_session().scalars(select(AuditEntry.action)))
    assert {"bonus_campaign.created", "bonus_campaign.ended"} <= actions
    again = manager.post(manager.m("/bonus-campaigns/shoes-weekend/end"))
    assert again.status_code == 409


def test_bad_values_are_shown_at_their_fields_and_nothing_is_made(app: Flask, admin_client) -> None:
    manager = admin_client(role="manager")
    cases = {
        "ends_at": {"ends_at": "2031-06-05T00:00"},
        "multiplier": {"multiplier": "1"},
        "budget_per_customer": {"budget_per_customer": "2000"},
        "conditions": {"conditions": '{"when": {"weekdays": ["someday"]}}'},
        "budget": {"budget": "lots"},
    }
    for field, changes in cases.items():
        page = manager.post(manager.m("/bonus-campaigns"), data=NEW | changes)
        assert page.status_code == 422, field
        assert _message(page.data, field), field
        assert 'value="3x on Shoes"' in page.get_data(as_text=True)  # the form is kept
    assert "weekdays.0" in _message(
        manager.post(manager.m("/bonus-campaigns"), data=NEW | cases["conditions"]).data,
        "conditions",
    )
    assert _campaigns(app) == []


def test_the_form_says_what_the_api_says(app: Flask, admin_client) -> None:
    """The same service refuses both: the same message at the same field."""
    manager = admin_client(role="manager")
    page = manager.post(manager.m("/bonus-campaigns"), data=NEW | {"multiplier": "1"})
    assert _message(page.data, "multiplier") == "Must be more than 1 and at most 100."


def test_staff_read_but_do_not_make_or_end(app: Flask, admin_client) -> None:
    clerk = admin_client(role="staff")
    listing = clerk.get(clerk.m("/bonus-campaigns"))
    assert listing.status_code == 200
    assert "No bonus campaigns yet." in listing.get_data(as_text=True)
    assert "bonus-campaign-form" not in listing.get_data(as_text=True)
    assert clerk.post(clerk.m("/bonus-campaigns"), data=NEW).status_code == 403
    assert _campaigns(app) == []


def test_a_form_without_csrf_is_refused(app: Flask, admin_client) -> None:
    manager = admin_client(role="manager")
    assert manager.post(manager.m("/bonus-campaigns"), data=NEW, csrf="").status_code == 400
    assert _campaigns(app) == []


def test_a_manager_changes_a_campaign_in_its_form(app: Flask, admin_client) -> None:
    """The edit page shows what the campaign is; saving changes it (one audit row) and
    keeps its key; its list row links to it (#18)."""
    manager = admin_client(role="manager")
    assert manager.post(manager.m("/bonus-campaigns"), data=NEW).status_code == 303
    listing = manager.get(manager.m("/bonus-campaigns")).get_data(as_text=True)
    assert 'href="/loyalty/admin/m/shop/bonus-campaigns/shoes-weekend/edit"' in listing
    page = manager.get(manager.m("/bonus-campaigns/shoes-weekend/edit"))
    assert page.status_code == 200
    shown = page.get_data(as_text=True)
    assert 'value="3x on Shoes"' in shown and 'value="2031-06-06T00:00"' in shown
    assert 'value="1000"' in shown and "&#34;categories&#34;: [&#34;shoes&#34;]" in shown
    changed = NEW | {"name": "4x on Shoes", "multiplier": "4", "budget": "2000", "key": "x"}
    saved = manager.post(manager.m("/bonus-campaigns/shoes-weekend/edit"), data=changed)
    assert saved.status_code == 303, saved.get_data(as_text=True)
    assert "4x on Shoes saved." in manager.get(saved.headers["Location"]).get_data(as_text=True)
    (campaign,) = _campaigns(app)
    assert (campaign.key, campaign.name, campaign.multiplier, campaign.budget) == (
        "shoes-weekend", "4x on Shoes", 4, 2000,
    )  # fmt: skip
    with app.app_context():
        actions = list(get_session().scalars(select(AuditEntry.action)))
    assert actions.count("bonus_campaign.updated") == 1


def test_a_bad_change_is_shown_at_its_field_and_changes_nothing(app: Flask, admin_client) -> None:
    manager = admin_client(role="manager")
    manager.post(manager.m("/bonus-campaigns"), data=NEW)
    path = manager.m("/bonus-campaigns/shoes-weekend/edit")
    cases = {
        "ends_at": {"ends_at": "2031-06-05T00:00"},
        "multiplier": {"multiplier": "1"},
        "budget_per_customer": {"budget_per_customer": "2000"},
        "conditions": {"conditions": "{not json"},
        "priority": {"priority": "high"},
    }
    for field, changes in cases.items():
        page = manager.post(path, data=NEW | {"name": "Kept"} | changes)
        assert page.status_code == 422, field
        assert _message(page.data, field), field
        assert 'value="Kept"' in page.get_data(as_text=True)  # the form is kept
    (campaign,) = _campaigns(app)
    assert (campaign.name, campaign.multiplier) == ("3x on Shoes", 3)


def test_an_ended_campaign_cannot_change(app: Flask, admin_client) -> None:
    manager = admin_client(role="manager")
    manager.post(manager.m("/bonus-campaigns"), data=NEW)
    manager.post(manager.m("/bonus-campaigns/shoes-weekend/end"))
    page = manager.get(manager.m("/bonus-campaigns/shoes-weekend/edit")).get_data(as_text=True)
    assert "This campaign has ended: it cannot change." in page
    refused = manager.post(manager.m("/bonus-campaigns/shoes-weekend/edit"), data=NEW)
    assert refused.status_code == 422
    assert "has ended" in refused.get_data(as_text=True)


def test_staff_cannot_change_and_an_edit_needs_csrf(app: Flask, admin_client) -> None:
    manager = admin_client(role="manager")
    manager.post(manager.m("/bonus-campaigns"), data=NEW)
    clerk = admin_client(role="staff")
    path = "/bonus-campaigns/shoes-weekend/edit"
    assert clerk.get(clerk.m(path)).status_code == 403
    assert clerk.post(clerk.m(path), data=NEW | {"name": "No"}).status_code == 403
    assert manager.post(manager.m(path), data=NEW | {"name": "No"}, csrf="").status_code == 400
    assert manager.get(manager.m("/bonus-campaigns/nope/edit")).status_code == 404
    assert [c.name for c in _campaigns(app)] == ["3x on Shoes"]
