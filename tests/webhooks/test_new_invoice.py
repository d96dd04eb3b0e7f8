"""An invoice created by the event itself skips the lookups of its earning rows and earn
entry (issue 20): nothing can exist for it yet. Duplicates and retries still replay."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from loyalty_plugin import hookimpl
from loyalty_plugin.models import Account
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.ledger.integrity import verify_ledger
from tests.webhooks.conftest import customer, event, invoice, ledger_points

PAID = event("invoice.paid", {"invoice": invoice(customer=customer())})
EARNED = [("earn", 50), ("earn", 12)]


class FailsOnce:
    """A plugin whose database work fails the first time, after the event has earned."""

    failed = False

    @hookimpl
    def host_event_received(self, session, event):
        if not self.failed:
            self.failed = True
            session.execute(text("SELECT * FROM table_that_is_not_there"))


def _verified(app) -> None:
    with app.app_context():
        session = app.extensions["loyalty"].db.session
        assert verify_ledger(session) == []


def test_the_same_invoice_under_other_webhook_ids_earns_once(post, host) -> None:
    """A second and third event for an invoice earned on replay its earning."""
    first = post(PAID, msg_id="msg_1")
    assert first.json["result"]["points_earned"] == 12
    for msg_id in ("msg_2", "msg_3"):
        again = post(PAID, msg_id=msg_id)
        assert again.status_code == 200, again.json
        assert again.json["result"]["points_earned"] == 0, again.json
    assert ledger_points(host) == EARNED
    _verified(host)


def test_a_failed_first_attempt_is_retried_and_earns_once(post, host) -> None:
    """The invoice made by a rolled-back attempt is new again on the retry; later copies
    find what the retry earned."""
    host.extensions["loyalty"].plugin_manager.register(FailsOnce())
    assert post(PAID, msg_id="msg_1").status_code == 202
    assert ledger_points(host) == []
    assert post(PAID, msg_id="msg_2").json["result"]["points_earned"] == 12
    assert post(PAID, msg_id="msg_3").json["result"]["points_earned"] == 0
    assert ledger_points(host) == EARNED
    _verified(host)


def test_a_key_said_to_be_new_is_still_unique(post, host) -> None:
    """``key_is_new`` skips the lookup, not the unique key: a used key is refused."""
    post(PAID, msg_id="msg_1")
    with host.app_context():
        session = host.extensions["loyalty"].db.session
        account_id = session.scalars(select(Account.id)).one()
        ledger.earn(
            session, account_id=account_id, points=5, now=datetime.now(UTC), actor="test",
            idempotency_key="once",
        )  # fmt: skip
        session.commit()

        def again() -> None:
            ledger.earn(
                session, account_id=account_id, points=5, now=datetime.now(UTC),
                actor="test", idempotency_key="once", key_is_new=True,
            )  # fmt: skip
            session.flush()

        with pytest.raises(IntegrityError):
            again()
        session.rollback()
