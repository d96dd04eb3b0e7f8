"""The Campaigns screen with the test client: a manager makes a campaign (once per form
key), renames it, moves its last day and ends it; staff read; bad values at their field."""

from __future__ import annotations

import html

from flask import Flask
from sqlalchemy import select

from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import AuditEntry, Coupon, CouponCampaign

NEW = {
    "name": "Summer sale",
    "count": "20",
    "kind": "percent",
    "percent": "10",
    "amount": "",
    "prefix": "summer",
    "last_day": "2031-08-31",
    "form_key": "make-1",
}


def _campaigns(app: Flask) -> list[CouponCampaign]:
    with app.app_context():
        return list(get_session().scalars(select(CouponCampaign)))


def _statuses(app: Flask) -> dict[str, int]:
    with app.app_context():
        found: dict[str, int] = {}
        for status in get_session().scalars(select(Coupon.status)):
            found[str(status)] = found.get(str(status), 0) + 1
        return found


def test_a_manager_makes_changes_and_ends_a_campaign(app, admin_client) -> None:
    manager = admin_client(role="manager")
    made = manager.post(manager.m("/campaigns"), data=NEW)
    again = manager.post(manager.m("/campaigns"), data=NEW)
    assert (made.status_code, again.status_code) == (303, 303)
    assert made.headers["Location"] == again.headers["Location"]
    (campaign,) = _campaigns(app)
    assert campaign.count == 20 and campaign.expires_at.isoformat() == "2031-09-01T00:00:00+00:00"
    assert _statuses(app) == {"active": 20}
    page = manager.get(made.headers["Location"]).get_data(as_text=True)
    assert "Summer sale: 20 coupons made." in page and 'value="2031-08-31"' in page
    listing = manager.get(manager.m("/campaigns")).get_data(as_text=True)
    assert "Summer sale" in listing and "running" in listing

    path = manager.m(f"/campaigns/{campaign.id}")
    saved = manager.post(path, data={"name": "Summer sale 2031", "last_day": "2031-09-30"})
    assert saved.status_code == 303
    with app.app_context():
        expiries = set(get_session().scalars(select(Coupon.expires_at)))
        assert [e.isoformat() for e in expiries] == ["2031-10-01T00:00:00+00:00"]
    past = manager.post(path, data={"name": "X", "last_day": "2020-01-01"})
    assert past.status_code == 422
    text = html.unescape(past.get_data(as_text=True))
    assert 'id="f-last_day-error"' in text and "Expiry must be in the future." in text
    assert manager.post(path, data={"name": "", "last_day": ""}).status_code == 422

    ended = manager.post(manager.m(f"/campaigns/{campaign.id}/end"), data={})
    assert ended.status_code == 303
    shown = manager.get(ended.headers["Location"]).get_data(as_text=True)
    assert "Summer sale 2031 has ended; 20 unused coupons are cancelled." in shown
    assert "End the campaign now" not in shown
    assert _statuses(app) == {"cancelled": 20}
    twice = manager.post(manager.m(f"/campaigns/{campaign.id}/end"), data={})
    assert twice.status_code == 409 and b"The campaign has already ended." in twice.data
    with app.app_context():
        actions = sorted(
            get_session().scalars(
                select(AuditEntry.action).where(AuditEntry.target_type == "coupon_campaign")
            )
        )
    assert actions == [
        "coupon_campaign.created",
        "coupon_campaign.ended",
        "coupon_campaign.updated",
    ]
    coupons = manager.get(manager.m("/coupons"), query_string={"campaign": str(campaign.id)})
    assert coupons.data.count(b"data-coupon=") == 20


def test_a_bad_campaign_re_renders_and_staff_only_read(app, admin_client) -> None:
    manager = admin_client(role="manager")
    bad = manager.post(manager.m("/campaigns"), data=NEW | {"count": "9000", "form_key": "b"})
    assert bad.status_code == 422 and b'id="f-count-error"' in bad.data
    assert b'value="Summer sale"' in bad.data
    no_percent = manager.post(manager.m("/campaigns"), data=NEW | {"percent": "", "form_key": "c"})
    assert no_percent.status_code == 422 and b'id="f-percent-error"' in no_percent.data
    assert _campaigns(app) == []
    assert manager.post(manager.m("/campaigns"), data=NEW).status_code == 303
    (campaign,) = _campaigns(app)
    clerk = admin_client(role="staff")
    assert clerk.get(clerk.m("/campaigns")).status_code == 200
    assert b"New campaign" not in clerk.get(clerk.m("/campaigns")).data
    assert clerk.get(clerk.m(f"/campaigns/{campaign.id}")).status_code == 200
    assert clerk.post(clerk.m("/campaigns"), data=NEW).status_code == 403
    assert clerk.post(clerk.m(f"/campaigns/{campaign.id}/end"), data={}).status_code == 403
    assert manager.get(manager.m("/campaigns/999999")).status_code == 404


def test_a_percentage_reads_as_written_on_every_page(app, admin_client) -> None:
    """10 % off, not "10.0000 % off": PostgreSQL and MariaDB give the column's four places."""
    manager = admin_client(role="manager")
    made = manager.post(manager.m("/campaigns"), data=NEW)
    assert made.status_code == 303
    pages = {
        "campaign": manager.get(made.headers["Location"]),
        "campaigns": manager.get(manager.m("/campaigns")),
        "coupons": manager.get(manager.m("/coupons")),
    }
    for name, page in pages.items():
        text = html.unescape(page.get_data(as_text=True))
        assert "10 % off" in text and "10.0000" not in text, name
