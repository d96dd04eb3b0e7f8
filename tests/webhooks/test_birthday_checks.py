"""A birthday event counts for the year it happens in, on the customer's birthday (#12).

Issue 12, item 7: ``customer.birthday`` paid the bonus for any year named in
``data.date``: 1990, 2000, 2020, 2026, 2027, 2100 and 9999 each earned 100, all sent the
same day.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from loyalty_plugin.models import InboxStatus, LedgerEntry, Merchant, WebhookEvent
from tests.webhooks.conftest import customer, event


def birthday(day: str, at: str = "2026-01-15T12:00:00Z", customer_id: str = "c1") -> dict:
    return event("customer.birthday", {"customer_id": customer_id, "date": day}, occurred_at=at)


def bonus_points(session) -> int:
    session.expire_all()
    entries = session.scalars(
        select(LedgerEntry.points).where(LedgerEntry.reference_type == "birthday")
    ).all()
    return sum(entries)


@pytest.fixture
def known(send):
    """c1 is enrolled, date of birth unknown."""
    assert send(event("customer.created", {"customer": customer()})).status == 200
    return send


@pytest.mark.parametrize("year", [1990, 2000, 2020, 2027, 2100, 9999])
def test_a_birthday_in_another_year_is_refused(known, shop, year) -> None:
    """Sent on 2026-01-15, a birthday of another year is 422 invalid_event on data.date."""
    answer = known(birthday(f"{year}-02-03"))
    assert answer.status == 422
    assert answer.body["error"]["code"] == "invalid_event"
    assert "data.date" in answer.body["error"]["fields"]
    assert bonus_points(shop) == 0
    assert shop.scalar(select(WebhookEvent.status).order_by(WebhookEvent.id.desc()).limit(1)) == (
        InboxStatus.REJECTED
    )


def test_the_year_of_the_event_earns_once(known, shop) -> None:
    """The same batch of years sent on one day earns once, for 2026."""
    answers = [known(birthday(f"{year}-02-03")) for year in (1990, 2026, 2027, 2026, 9999)]
    assert [a.status for a in answers] == [422, 200, 422, 200, 422]
    assert bonus_points(shop) == 100


@pytest.mark.parametrize(
    ("day", "at", "status"),
    [
        ("2027-01-01", "2026-12-31T23:30:00Z", 200),  # just before midnight: next year's
        ("2026-12-31", "2027-01-01T00:30:00Z", 200),  # just after: last year's
        ("2027-01-01", "2026-12-30T12:00:00Z", 422),  # a day and a half early
        ("2026-12-31", "2027-01-02T12:00:00Z", 422),
    ],
)
def test_a_small_tolerance_around_new_year(known, shop, day, at, status) -> None:
    """Around midnight on 31 December either year counts; further away only the event's."""
    assert known(birthday(day, at=at)).status == status


def test_the_year_is_read_in_the_merchants_time_zone(known, shop) -> None:
    """2026-12-31 03:00 UTC: too early for a 2027 birthday in UTC, not in Tokyo (12:00)."""
    assert known(birthday("2027-01-03", at="2026-12-31T03:00:00Z")).status == 422
    shop.get(Merchant, "shop").timezone = "Asia/Tokyo"
    shop.commit()
    assert known(birthday("2027-01-03", at="2026-12-31T03:00:00Z")).status == 200


def test_a_known_date_of_birth_must_match(send, shop) -> None:
    """With a date of birth, only that day counts (29 February: 28 February or 1 March)."""
    send(event("customer.created", {"customer": customer(date_of_birth="1990-02-03")}))
    send(event("customer.created", {"customer": customer("c2", date_of_birth="2000-02-29")}))
    wrong = send(birthday("2026-02-04"))
    assert wrong.status == 422 and "data.date" in wrong.body["error"]["fields"]
    assert send(birthday("2026-02-03")).status == 200
    assert send(birthday("2026-02-28", customer_id="c2")).status == 200
    assert bonus_points(shop) == 200
