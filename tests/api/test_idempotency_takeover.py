"""An Idempotency-Key is taken over only from a request that died, never from a slow one."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from loyalty_plugin.models import ApiKey
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services import idempotency as service
from loyalty_plugin.services.idempotency import Claim, ClaimLost, claim_key, hold_key
from loyalty_plugin.services.spending import redemption
from loyalty_plugin.web.api import idempotency as web
from tests.api.conftest import PREFIX, invoice

BODY = {"customer_id": "42", "points": 100, "invoice": invoice()}


@pytest.fixture
def app(wide_app):
    """Requests run in threads here: the app with a wide connection pool."""
    return wide_app


@pytest.fixture
def gated_hold(monkeypatch) -> dict[str, Any]:
    """``hold_points`` counts its calls; the first one waits at a gate until released."""
    state: dict[str, Any] = {"calls": 0, "started": threading.Event(), "go": threading.Event()}
    original = redemption.hold_points

    def hold_points(*args: Any, **kwargs: Any) -> Any:
        state["calls"] += 1
        if state["calls"] == 1:
            state["started"].set()
            state["go"].wait(20)
        return original(*args, **kwargs)

    monkeypatch.setattr(redemption, "hold_points", hold_points)
    return state


def _in_thread(call: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    answers: list[Any] = []
    thread = threading.Thread(target=lambda: answers.append(call()))
    thread.start()
    return thread, answers


def _claim(app, db, keys, *, key: str, now) -> Any:
    """Claim ``key`` for ``BODY`` as the API would, and commit: a request that then died."""
    api_key = db.scalars(select(ApiKey).where(ApiKey.prefix == keys["write"][:11])).one()
    with app.test_request_context(f"{PREFIX}/redemptions", method="POST", json=BODY):
        fingerprint = web._fingerprint()
    outcome = claim_key(
        db,
        merchant_id="shop",
        api_key_id=api_key.id,
        key=key,
        fingerprint=fingerprint,
        now=now,
    )
    db.commit()
    return outcome


def test_a_slow_first_request_past_the_abandon_window_is_not_taken_over(
    app, keys, customer, db, gated_hold, monkeypatch
) -> None:
    """A repeat of a key whose request is still running waits or gets 409; it never runs."""
    monkeypatch.setattr(service, "ABANDONED_AFTER", timedelta(0))
    customer("42", 1_000)
    headers = {"Authorization": f"Bearer {keys['write']}", "Idempotency-Key": "slow"}

    def post() -> Any:
        return app.test_client().post(f"{PREFIX}/redemptions", json=BODY, headers=headers)

    first, first_answer = _in_thread(post)
    assert gated_hold["started"].wait(20)
    repeat, repeat_answer = _in_thread(post)
    repeat.join(1.0)  # PostgreSQL and MariaDB answer at once; SQLite waits for the lock
    gated_hold["go"].set()
    first.join(30)
    repeat.join(30)

    assert gated_hold["calls"] == 1
    assert first_answer[0].status_code == 201
    (again,) = repeat_answer
    if again.status_code == 409:
        assert again.json["error"]["code"] == "idempotency_key_in_use"
    else:
        assert again.headers.get("Idempotent-Replayed") == "true"
        assert again.json == first_answer[0].json


def test_a_key_whose_request_died_is_taken_over(app, keys, customer, db, gated_hold) -> None:
    """An in-flight claim older than the window that nothing holds: a repeat runs it."""
    customer("42", 1_000)
    gated_hold["go"].set()
    _claim(app, db, keys, key="dead", now=utcnow() - service.ABANDONED_AFTER - timedelta(seconds=1))
    headers = {"Authorization": f"Bearer {keys['write']}", "Idempotency-Key": "dead"}
    answer = app.test_client().post(f"{PREFIX}/redemptions", json=BODY, headers=headers)
    assert answer.status_code == 201 and "Idempotent-Replayed" not in answer.headers
    assert gated_hold["calls"] == 1


def test_a_request_whose_key_was_taken_over_does_not_run(app, keys, customer, db) -> None:
    """If a repeat took the key over first, the original finds its lease gone and stops."""
    customer("42", 1_000)
    then = utcnow() - timedelta(minutes=10)
    first = _claim(app, db, keys, key="late", now=then)
    second = _claim(app, db, keys, key="late", now=utcnow())
    assert first.claim == second.claim == Claim.ACQUIRED
    with pytest.raises(ClaimLost):
        hold_key(db, record_id=first.record_id, claimed_at=first.claimed_at)
    db.rollback()
    hold_key(db, record_id=second.record_id, claimed_at=second.claimed_at)
    db.rollback()
