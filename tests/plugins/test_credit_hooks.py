"""The store credit notification hooks (#19): after commit, money as decimal strings,
apart from the points hooks."""

from __future__ import annotations

from datetime import timedelta

import pytest

from loyalty_plugin import hookimpl
from loyalty_plugin.plugins import make_plugin_manager
from loyalty_plugin.services.ledger.expiry import expire_due_batch
from loyalty_plugin.services.messaging.reminders import expiry_reminder_batch
from loyalty_plugin.services.spending.settings import update_settings
from tests.plugins.test_plugins import MONDAY, paid, send, shop_session
from tests.webhooks.conftest import replace_default_program

CASHBACK = [
    {"kind": "per_amount", "points": "1", "per": "10"},
    {"id": "cashback", "kind": "per_amount", "points": "0", "per": "1",
     "reward": {"credit_percent": "5", "instead_of_points": True}},
]  # fmt: skip


class CreditRecorder:
    """Records the credit notifications, and the points ones to tell them apart."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, ...]] = []

    @hookimpl
    def credit_earned(self, event):
        self.seen.append(("credit_earned", event.currency, event.amount, event.balance))

    @hookimpl
    def credit_reversed(self, event):
        self.seen.append(("credit_reversed", event.currency, event.amount, event.balance))

    @hookimpl
    def credit_expiring(self, event):
        self.seen.append(("credit_expiring", event.currency, event.amount))

    @hookimpl
    def credit_expired(self, event):
        self.seen.append(("credit_expired", event.currency, event.amount, event.balance))

    @hookimpl
    def points_earned(self, event):
        self.seen.append(("points_earned", str(event.points)))


@pytest.fixture
def story(session, now):
    """A EUR wallet whose credit lasts one month, 5% back and 1 point per 10.00; a
    recorder on the app's plugin manager. Returns ``(session, pm, recorder)``."""
    pm = make_plugin_manager(entry_points=False)
    recorder = CreditRecorder()
    pm.register(recorder)
    pm.check_pending()  # each hook the recorder implements has its hookspec
    s = shop_session(session, pm)
    changes = {"credit_currencies": ["EUR"], "credit_expiry_months": 1}
    update_settings(s, merchant_id="shop", changes=changes, now=now, actor="t")
    replace_default_program(s, now=now, rules=CASHBACK)
    s.commit()
    return s, pm, recorder


def test_hook_credit_earned(story, now) -> None:
    """100.00 earns 5.00 credit and 10 points: one call of each hook, after commit."""
    s, pm, recorder = story
    send(s, pm, "invoice.paid", paid("I1", MONDAY), "e1", now)
    assert ("credit_earned", "EUR", "5.00", "5.00") in recorder.seen
    assert ("points_earned", "10") in recorder.seen


def test_hook_credit_reversed(story, now) -> None:
    """A refund of 40.00 takes back 2.00: ``-2.00``, 3.00 left."""
    s, pm, recorder = story
    send(s, pm, "invoice.paid", paid("I1", MONDAY), "e1", now)
    refund = {"invoice_id": "I1", "refund": {"id": "R1", "amount": "40.00"}}
    send(s, pm, "invoice.refunded", refund, "e2", now)
    assert ("credit_reversed", "EUR", "-2.00", "3.00") in recorder.seen


def test_hook_credit_expiring(story, now) -> None:
    """Within the 30-day reminder offset the reminder's hook gets the money."""
    s, pm, recorder = story
    send(s, pm, "invoice.paid", paid("I1", MONDAY), "e1", now)
    expiry_reminder_batch(s, now=now + timedelta(days=20), merchant_id="shop")
    assert ("credit_expiring", "EUR", "5.00") not in recorder.seen  # not before commit
    s.commit()
    assert ("credit_expiring", "EUR", "5.00") in recorder.seen


def test_hook_credit_expired(story, now) -> None:
    """The expiry job takes the 5.00 after a month; a rolled-back run calls nothing."""
    s, pm, recorder = story
    send(s, pm, "invoice.paid", paid("I1", MONDAY), "e1", now)
    later = now + timedelta(days=40)
    expire_due_batch(s, now=later, merchant_id="shop")
    s.rollback()
    assert not [seen for seen in recorder.seen if seen[0] == "credit_expired"]
    expire_due_batch(s, now=later, merchant_id="shop")
    s.commit()
    assert ("credit_expired", "EUR", "5.00", "0.00") in recorder.seen
