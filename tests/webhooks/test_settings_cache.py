"""Per-merchant settings kept across requests never outlive a committed change (issue 20).

Each test lets one event fill the cache through the app, changes a setting in another
session on its own connection and commits, then checks that the next event uses it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty_plugin.domain.expiry import ExpiryKind, ExpiryPolicy
from loyalty_plugin.domain.notifications import Message, NotificationPrefs
from loyalty_plugin.models import (
    BonusCampaign,
    ExpirySettings,
    Lot,
    Merchant,
    OutboxMessage,
    WebhookSecret,
)
from loyalty_plugin.services.earning.bonus_campaigns import (
    create_bonus_campaign,
    end_bonus_campaign,
    update_bonus_campaign,
)
from loyalty_plugin.services.earning.programs import update_program
from loyalty_plugin.services.ledger.expiry import expiry_policy, set_expiry_policy
from loyalty_plugin.services.merchants.registration import create_merchant
from loyalty_plugin.services.merchants.secrets import (
    create_secret,
    merchant_with_secrets,
    revoke_secret,
)
from loyalty_plugin.services.messaging.notifications import (
    notification_prefs,
    set_notification_prefs,
)
from loyalty_plugin.services.messaging.outbox import set_endpoint
from tests.conftest import wipe
from tests.webhooks.conftest import event, invoice

NEW_SECRET = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"


def _paid(number: int, occurred: datetime | None = None) -> dict[str, Any]:
    occurred = (occurred or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    data = {"invoice": invoice(f"N{number}"), "customer": {"id": "c1"}}
    return event("invoice.paid", data) | {"occurred_at": occurred}


def _earn(post: Any, number: int) -> None:
    answer = post(_paid(number), msg_id=f"msg_{number}")
    assert answer.status_code == 200, answer.json
    assert answer.json["status"] == "processed", answer.json


def _last_lot_expiry(engine: sa.Engine) -> datetime | None:
    with Session(engine) as other:
        return other.scalar(select_last_lot())


def select_last_lot() -> sa.Select[tuple[datetime | None]]:
    return sa.select(Lot.expires_at).order_by(Lot.id.desc()).limit(1)


def test_a_committed_expiry_policy_applies_to_the_next_event(
    post: Any, engine: sa.Engine, now: datetime
) -> None:
    """Points earned after another session committed a new expiry policy expire by it."""
    _earn(post, 1)
    _earn(post, 2)  # served from the cache
    assert _last_lot_expiry(engine) is None
    with Session(engine) as other:
        policy = ExpiryPolicy(kind=ExpiryKind.DAYS_AFTER_EARNING, days=30)
        set_expiry_policy(other, merchant_id="default", policy=policy, now=now, actor="test")
        other.commit()
    _earn(post, 3)
    assert _last_lot_expiry(engine) is not None


def test_an_endpoint_added_receives_the_next_event(
    post: Any, engine: sa.Engine, now: datetime
) -> None:
    """An endpoint committed in another session gets the very next ``points.earned``."""
    _earn(post, 1)
    _earn(post, 2)
    with Session(engine) as other:
        assert other.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 0
        set_endpoint(other, merchant_id="default", url="https://host.test/hook", now=now)
        other.commit()
    _earn(post, 3)
    with Session(engine) as other:
        assert other.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) >= 1


def _earned(post: Any, number: int, occurred: datetime | None = None) -> int:
    answer = post(_paid(number, occurred), msg_id=f"msg_{number}")
    assert answer.status_code == 200, answer.json
    return answer.json["result"]["points_earned"]


def _double_the_rate(engine: sa.Engine, *, effective_from: datetime) -> None:
    rules = [
        {"id": "base", "kind": "per_amount", "points": "2", "per": "10.00"},
        {"id": "welcome", "kind": "registration", "points": 50},
        {"id": "birthday", "kind": "birthday", "points": 100},
    ]
    with Session(engine) as other:
        update_program(
            other,
            merchant_id="default",
            key="default",
            changes={"rules": rules, "effective_from": effective_from.isoformat()},
            now=datetime.now(UTC),
            actor="test",
        )
        other.commit()


def test_a_new_program_rate_earns_on_the_next_invoice(post: Any, engine: sa.Engine) -> None:
    """A program version committed in another session earns on the very next invoice."""
    assert _earned(post, 1) == 12
    assert _earned(post, 2) == 12  # served from the cache
    _double_the_rate(engine, effective_from=datetime.now(UTC) - timedelta(seconds=5))
    assert _earned(post, 3) == 25


def test_each_event_earns_by_the_version_in_force_at_its_date(post: Any, engine: sa.Engine) -> None:
    """The cache keeps every version of a program, not the one in force when it was read:
    each event earns by the version in force at its own ``occurred_at``."""
    now = datetime.now(UTC)
    _double_the_rate(engine, effective_from=now - timedelta(hours=1))
    earlier = now - timedelta(hours=2)
    assert _earned(post, 1, occurred=earlier) == 12
    assert _earned(post, 2, occurred=now) == 25  # the same snapshot, another date
    assert _earned(post, 3, occurred=earlier) == 12


def test_a_revoked_secret_is_refused_at_once(post: Any, engine: sa.Engine, now: datetime) -> None:
    """Secrets are read with the merchant's row by every event: a revocation holds at once."""
    _earn(post, 1)
    with Session(engine) as other:
        create_secret(other, merchant_id="default", now=now, secret=NEW_SECRET)
        old = other.scalar(sa.select(WebhookSecret.id).order_by(WebhookSecret.id).limit(1))
        revoke_secret(other, secret_id=old, now=datetime.now(UTC) - timedelta(seconds=1))
        other.commit()
    refused = post(_paid(2), msg_id="msg_2")
    assert refused.status_code in (401, 403, 422), refused.json
    accepted = post(_paid(2), msg_id="msg_2", secret=NEW_SECRET)
    assert accepted.status_code == 200, accepted.json


def _in_event(session: Session, merchant_id: str = "m") -> None:
    """What an event does first: read the merchant with its stamp (and secrets)."""
    merchant, _secrets = merchant_with_secrets(session, merchant_id, now=datetime.now(UTC))
    assert merchant is not None


def _version(engine: sa.Engine, merchant_id: str = "m") -> int:
    with Session(engine) as other:
        return other.scalar(sa.select(Merchant.settings_version).where(Merchant.id == merchant_id))


@pytest.fixture
def merchant(session: Session) -> str:
    create_merchant(session, merchant_id="m", name="M", currency="EUR")
    session.commit()
    return "m"


def test_notification_switches_changed_elsewhere_are_read_again(
    session: Session, engine: sa.Engine, merchant: str, now: datetime
) -> None:
    """A switch committed by another session is seen by the next transaction's lookup."""
    _in_event(session)
    assert notification_prefs(session, merchant).enabled(Message.POINTS_EARNED)
    session.commit()
    with Session(engine) as other:
        prefs = NotificationPrefs(disabled=frozenset({Message.POINTS_EARNED}))
        set_notification_prefs(other, merchant_id=merchant, prefs=prefs, now=now, actor="t")
        other.commit()
    _in_event(session)
    assert not notification_prefs(session, merchant).enabled(Message.POINTS_EARNED)


def test_a_settings_write_bumps_the_version_once_per_flush(
    session: Session, engine: sa.Engine, merchant: str, now: datetime
) -> None:
    """Each transaction that writes a cached setting bumps the merchant's version once."""
    first = _version(engine)  # the default program made with the merchant may have bumped it
    policy = ExpiryPolicy(kind=ExpiryKind.DAYS_AFTER_EARNING, days=30)
    set_expiry_policy(session, merchant_id=merchant, policy=policy, now=now, actor="t")
    session.commit()
    assert _version(engine) == first + 1
    session.commit()  # nothing written: no bump
    assert _version(engine) == first + 1
    session.delete(session.get(ExpirySettings, merchant))
    session.commit()
    assert _version(engine) == first + 2


def test_bulk_writes_of_cached_settings_are_refused(session: Session, merchant: str) -> None:
    """A bulk UPDATE would change settings without the version: refused, not missed."""
    with pytest.raises(RuntimeError, match="settings version"):
        session.execute(sa.update(ExpirySettings).values(days=1))


def test_uncommitted_settings_are_never_cached(
    session: Session, engine: sa.Engine, merchant: str, now: datetime
) -> None:
    """A transaction that writes settings and rolls back leaves no snapshot of its writes."""
    _in_event(session)
    policy = ExpiryPolicy(kind=ExpiryKind.DAYS_AFTER_EARNING, days=5)
    set_expiry_policy(session, merchant_id=merchant, policy=policy, now=now, actor="t")
    assert expiry_policy(session, merchant).days == 5
    session.rollback()
    _in_event(session)
    assert expiry_policy(session, merchant) == ExpiryPolicy()


def test_a_merchant_made_again_is_a_new_key(
    session: Session, engine: sa.Engine, merchant: str, now: datetime
) -> None:
    """Deleted and made again (a wiped database, a restored backup), a merchant is back at
    version 0, yet its old snapshot is not served: the row's random token differs."""
    _in_event(session)
    assert expiry_policy(session, merchant) == ExpiryPolicy()
    session.commit()
    wipe(engine)
    session.expunge_all()
    create_merchant(session, merchant_id="m", name="M", currency="EUR")
    policy = ExpiryPolicy(kind=ExpiryKind.DAYS_AFTER_EARNING, days=9)
    set_expiry_policy(session, merchant_id="m", policy=policy, now=now, actor="t")
    session.commit()
    with Session(engine) as other:
        other.execute(sa.update(Merchant.__table__).values(settings_version=0))
        other.commit()
    _in_event(session)
    assert expiry_policy(session, merchant).days == 9


DOUBLE = {"key": "double", "name": "Double points", "multiplier": "2"}


def _running(now: datetime, **changes: Any) -> dict[str, Any]:
    """A campaign on every line of every invoice, running from an hour ago to tomorrow."""
    window = {
        "starts_at": (now - timedelta(hours=1)).isoformat(),
        "ends_at": (now + timedelta(days=1)).isoformat(),
    }
    return DOUBLE | window | changes


def _in_other_session(engine: sa.Engine, action: Any, **arguments: Any) -> None:
    with Session(engine) as other:
        action(other, merchant_id="default", now=datetime.now(UTC), actor="test", **arguments)
        other.commit()


def test_a_bonus_campaign_created_changed_and_ended_elsewhere_applies_to_the_next_invoice(
    post: Any, engine: sa.Engine
) -> None:
    """Campaigns are kept in the settings cache, yet each change committed in another
    session (created, a new multiplier, ended) holds from the very next invoice."""
    assert _earned(post, 1) == 12
    assert _earned(post, 2) == 12  # served from the cache
    _in_other_session(engine, create_bonus_campaign, definition=_running(datetime.now(UTC)))
    assert _earned(post, 3) == 24
    assert _earned(post, 4) == 24  # the campaign served from the cache
    _in_other_session(engine, update_bonus_campaign, key="double", changes={"multiplier": "3"})
    assert _earned(post, 5) == 37  # 12.5 x 3, rounded once
    _in_other_session(engine, end_bonus_campaign, key="double")
    assert _earned(post, 6) == 12


def test_a_grant_neither_bumps_the_version_nor_reads_the_campaigns_again(
    app: Any, post: Any, engine: sa.Engine
) -> None:
    """Charging a budget raises its counter without a settings bump: the next invoice
    still finds the campaigns in the cache (their definitions are not read again; only the
    counters, under lock, to charge them)."""
    definition = _running(datetime.now(UTC), budget=1000)
    _in_other_session(engine, create_bonus_campaign, definition=definition)
    assert _earned(post, 1) == 24
    version = _version(engine, "default")
    with app.app_context():
        app_engine = app.extensions["loyalty"].db.engine
    reads: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "bonus_campaigns.conditions" in statement:
            reads.append(statement)

    sa.event.listen(app_engine, "before_cursor_execute", note)
    try:
        assert _earned(post, 2) == 24
    finally:
        sa.event.remove(app_engine, "before_cursor_execute", note)
    assert _version(engine, "default") == version
    assert reads == []
    with Session(engine) as other:
        assert other.scalar(sa.select(BonusCampaign.given)) == 24


def test_only_the_budget_counter_of_a_campaign_may_be_written_in_bulk(
    session: Session, merchant: str
) -> None:
    """``given`` is no cached setting; every other campaign column is."""
    session.execute(sa.update(BonusCampaign).values(given=BonusCampaign.given + 1))
    with pytest.raises(RuntimeError, match="settings version"):
        session.execute(sa.update(BonusCampaign).values(name="renamed"))
    with pytest.raises(RuntimeError, match="settings version"):
        session.execute(sa.update(BonusCampaign).values(given=1, ends_at=datetime.now(UTC)))
