"""A credit adjustment's expiry: in the future when asked, and again when approved."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from loyalty_plugin.models import Adjustment, Lot
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.ledger import adjustments


def pending_credit(db, *, expired: bool, points: int = 5000) -> Adjustment:
    """A pending adjustment asked for two days ago, expiring yesterday (or in a month)."""
    asked = utcnow() - timedelta(days=2)
    expiry = asked + (timedelta(days=1) if expired else timedelta(days=32))
    adjustment = adjustments.request_adjustment(
        db,
        merchant_id="shop",
        customer_id="42",
        points=points,
        reason="goodwill",
        staff="ann",
        now=asked,
        expires_at=expiry if points > 0 else None,
    )
    db.commit()
    return adjustment


def expiry_error(answer: Any) -> str:
    assert answer.status_code == 422, answer.json
    assert answer.json["error"]["code"] == "invalid_input"
    assert list(answer.json["error"]["fields"]) == ["expires_at"]
    return answer.json["error"]["message"]


@pytest.fixture
def approval_needed(configure, customer) -> None:
    configure(adjustment_approval_above=1000)
    customer("42")


@pytest.mark.parametrize(
    ("points", "days", "says"),
    [(500, -1, "in the future"), (500, 0, "in the future"), (-5, 30, "only a credit")],
)
def test_an_expiry_in_the_past_or_on_a_debit_is_refused_when_asked(
    api, customer, points, days, says
) -> None:
    """``expires_at`` must be a future date of a credit: 422 on the field, nothing recorded."""
    customer("42", 100)
    body = {"customer_id": "42", "points": points, "reason": "r", "staff": "ann"}
    answer = api.post("/adjustments", body | {"expires_at": _iso(days)})
    assert says in expiry_error(answer)
    assert api.get("/adjustments").json["data"] == []


def test_approving_a_credit_whose_expiry_passed_names_expires_at(api, db, approval_needed) -> None:
    """The approver is told the expiry passed and to give a new one; nothing is applied."""
    adjustment = pending_credit(db, expired=True)
    answer = api.post(f"/adjustments/{adjustment.id}/approve", {"staff": "bob"})
    assert "has passed" in expiry_error(answer)
    assert api.get(f"/adjustments/{adjustment.id}").json["status"] == "pending"
    assert api.get("/customers/42").json["accounts"][0]["balance"] == 0


def test_the_approver_gives_a_new_expiry(api, db, approval_needed) -> None:
    """Approving with a future ``expires_at`` applies the credit with that expiry."""
    adjustment = pending_credit(db, expired=True)
    new_expiry = _iso(90)
    answer = api.post(
        f"/adjustments/{adjustment.id}/approve", {"staff": "bob", "expires_at": new_expiry}
    )
    assert answer.status_code == 200, answer.json
    assert answer.json["status"] == "applied" and answer.json["expires_at"] == new_expiry
    lot = db.scalars(select(Lot).where(Lot.entry_id == answer.json["entry_id"])).one()
    assert lot.expires_at.isoformat() == new_expiry and lot.points == 5000


@pytest.mark.parametrize(("points", "days"), [(5000, -1), (-5000, 30)])
def test_a_new_expiry_in_the_past_or_for_a_debit_is_refused(
    api, db, configure, customer, points, days
) -> None:
    """The approver's expiry follows the same rule as the requester's."""
    configure(adjustment_approval_above=1000)
    customer("42", 6000)
    adjustment = pending_credit(db, expired=False, points=points)
    answer = api.post(
        f"/adjustments/{adjustment.id}/approve", {"staff": "bob", "expires_at": _iso(days)}
    )
    expiry_error(answer)
    assert api.get(f"/adjustments/{adjustment.id}").json["status"] == "pending"


def test_a_credit_still_valid_is_approved_as_asked(api, db, approval_needed) -> None:
    """Without a new expiry, an unexpired credit keeps the one requested."""
    adjustment = pending_credit(db, expired=False)
    answer = api.post(f"/adjustments/{adjustment.id}/approve", {"staff": "bob"})
    assert answer.status_code == 200
    assert answer.json["expires_at"] == adjustment.expires_at.isoformat()


def _iso(days: int) -> str:
    return (utcnow().replace(microsecond=0) + timedelta(days=days)).isoformat()
