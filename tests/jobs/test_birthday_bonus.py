"""The birthday bonus from the ``birthday-greetings`` job and from ``customer.birthday``:
once per customer and year whichever comes first, with the same points."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from itertools import count
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty_plugin.database import engine_options
from loyalty_plugin.domain.signatures import signature_headers
from loyalty_plugin.jobs.runner import JobRunner
from loyalty_plugin.models import EmailMessage, LedgerEntry
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.ledger.integrity import verify_ledger
from loyalty_plugin.services.merchants.api_keys import create_api_key
from loyalty_plugin.services.merchants.registration import create_merchant
from loyalty_plugin.services.merchants.secrets import create_secret

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
API = "/loyalty/api/v1"
TZ = "Pacific/Auckland"


class Host:
    """The host CRM: signed webhooks in, admin API calls, and the job runner."""

    def __init__(self, app: Flask, key: str) -> None:
        self.client = app.test_client()
        self.runner = JobRunner(app)
        self.key = key
        self.ids = count(1)

    def send(self, kind: str, data: dict[str, Any], at: str | None = None) -> dict[str, Any]:
        body = json.dumps(
            {"type": kind, "occurred_at": at or utcnow().isoformat(), "merchant_id": "shop",
             "data": data}
        ).encode()  # fmt: skip
        headers = signature_headers(
            [SECRET], msg_id=f"msg_{next(self.ids)}", timestamp=int(time.time()), body=body
        )
        answer = self.client.post(
            "/loyalty/webhooks", data=body, headers=headers | {"content-type": "application/json"}
        )
        assert answer.status_code == 200, answer.json
        return answer.json["result"]

    def api(self, method: str, path: str, body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {self.key}"}
        answer = self.client.open(API + path, method=method, json=body, headers=headers)
        assert answer.status_code < 300, answer.json
        return answer.json

    def customer(self, host_id: str, born: date, *, enrolled: bool = True) -> None:
        profile = {
            "id": host_id,
            "first_name": "Ana",
            "email": f"{host_id}@example.com",
            "email_opt_in": True,
            "enrolled": enrolled,
        }
        self.send("customer.created", {"customer": profile | {"date_of_birth": born.isoformat()}})

    def birthday(self, host_id: str, day: date) -> dict[str, Any]:
        # Sent on the day: a birthday counts only in the year it is sent (#12).
        data = {"customer_id": host_id, "date": day.isoformat()}
        return self.send("customer.birthday", data, at=f"{day.isoformat()}T09:00:00+00:00")

    def run_job(self, at: datetime) -> dict[str, Any]:
        outcome = self.runner.run_now("birthday-greetings", at=at)
        assert outcome.status == "succeeded", outcome.detail
        return {"rows": outcome.rows}


@pytest.fixture
def db(database_url: str, engine: sa.Engine) -> Iterator[Session]:
    """A session on a plain engine, closed before the app's clean-up."""
    plain = sa.create_engine(database_url, **engine_options(database_url))
    with Session(plain, expire_on_commit=False) as session:
        yield session
    plain.dispose()


@pytest.fixture
def host(app: Flask, db: Session) -> Host:
    """Merchant ``shop`` in Auckland (UTC+12/13), with a secret and an admin key."""
    create_merchant(db, merchant_id="shop", name="Shop", currency="EUR", timezone=TZ)
    create_secret(db, merchant_id="shop", now=utcnow(), secret=SECRET)
    _row, key = create_api_key(db, merchant_id="shop", scope="admin", name="admin", now=utcnow())
    db.commit()
    return Host(app, key)


@pytest.fixture
def soon() -> datetime:
    """A moment just ahead of the real clock (programs made now are in force then)."""
    return utcnow() + timedelta(minutes=5)


def local_day(at: datetime) -> date:
    return at.astimezone(ZoneInfo(TZ)).date()


def birthday_entries(db: Session) -> list[tuple[int, str]]:
    """Every birthday bonus in the ledger as (points, actor)."""
    db.rollback()
    rows = db.execute(
        select(LedgerEntry.points, LedgerEntry.actor)
        .where(LedgerEntry.reference_type == "birthday")
        .order_by(LedgerEntry.id)
    ).all()
    db.rollback()
    return [tuple(row) for row in rows]


def greeting_points(db: Session) -> list[Any]:
    """The ``points`` every queued birthday e-mail carries."""
    rows = db.scalars(select(EmailMessage.context).where(EmailMessage.template == "birthday"))
    points = [context["points"] for context in rows]
    db.rollback()
    return points


def test_job_then_host_event_awards_once(host: Host, db: Session, soon: datetime) -> None:
    """The job gives the program's 200 points; the host's event that day gives nothing."""
    host.api("POST", "/programs/default/archive", {})
    host.api("POST", "/programs", {"key": "main", "name": "Main", "status": "active",
                                   "rules": [{"kind": "birthday", "points": 200}]})  # fmt: skip
    today = local_day(soon)
    host.customer("c1", today.replace(year=1990))
    assert host.run_job(soon)["rows"] == 2  # one bonus, one e-mail
    answer = host.birthday("c1", today)
    assert answer["points_earned"] == 0
    assert answer["already_counted"] is True
    assert birthday_entries(db) == [(200, "job:birthday-greetings")]
    assert greeting_points(db) == [200]
    assert verify_ledger(db) == []


def test_host_event_then_job_awards_once_and_the_email_says_so(
    host: Host, db: Session, soon: datetime
) -> None:
    """The host's event gives the default program's 100; the job adds none and greets with
    those 100."""
    today = local_day(soon)
    host.customer("c1", today.replace(year=1990))
    assert host.birthday("c1", today)["points_earned"] == 100
    host.run_job(soon)
    assert birthday_entries(db) == [(100, "webhook")]
    assert greeting_points(db) == [100]


def test_two_job_runs_award_once(host: Host, db: Session, soon: datetime) -> None:
    """A second run the same day (and a later one that year) changes nothing."""
    today = local_day(soon)
    host.customer("c1", today.replace(year=1990))
    host.customer("c2", today.replace(year=1985))
    first = host.run_job(soon)
    second = host.run_job(soon + timedelta(hours=1))
    assert (first["rows"], second["rows"]) == (4, 0)
    assert birthday_entries(db) == [(100, "job:birthday-greetings")] * 2
    assert host.birthday("c2", today)["points_earned"] == 0


def test_customers_not_enrolled_get_no_greeting(host: Host, db: Session, soon: datetime) -> None:
    """A contact the host did not enrol is not greeted as a member (nor earns the interim)."""
    today = local_day(soon)
    host.customer("member", today.replace(year=1990))
    host.customer("contact", today.replace(year=1991), enrolled=False)
    host.run_job(soon)
    assert greeting_points(db) == [100]
    assert birthday_entries(db) == [(100, "job:birthday-greetings")]


def test_merchants_can_leave_birthdays_to_the_host(host: Host, db: Session, soon: datetime) -> None:
    """With ``birthday_bonus_by_job`` off the job only greets; the host's event earns."""
    assert host.api("GET", "/settings")["birthday_bonus_by_job"] is True
    host.api("PATCH", "/settings", {"birthday_bonus_by_job": False})
    today = local_day(soon)
    host.customer("c1", today.replace(year=1990))
    host.run_job(soon)
    assert (birthday_entries(db), greeting_points(db)) == ([], [0])
    assert host.birthday("c1", today)["points_earned"] == 100
    assert birthday_entries(db) == [(100, "webhook")]


def test_29_february_birthdays_earn_on_28_february_in_the_merchants_time_zone(
    host: Host, db: Session
) -> None:
    """At 12:00 UTC on 27 February 2027 it is already 28 February in Auckland."""
    host.customer("leap", date(2000, 2, 29))
    host.customer("born-28", date(1999, 2, 28))
    host.customer("born-27", date(1999, 2, 27))
    host.run_job(datetime(2027, 2, 27, 12, 0, tzinfo=UTC))
    assert birthday_entries(db) == [(100, "job:birthday-greetings")] * 2
    assert host.birthday("leap", date(2027, 3, 1))["points_earned"] == 0
