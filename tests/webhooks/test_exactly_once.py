"""Exactly once: events sent three times, shuffled, leave the ledger that one ordered pass does."""

from __future__ import annotations

import random
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loyalty_plugin.models import (
    Account,
    Customer,
    InboxStatus,
    LedgerEntry,
    WebhookEvent,
)
from loyalty_plugin.services.intake.queue import apply_queued
from loyalty_plugin.services.intake.webhooks import IntakeSettings, process_host_event
from loyalty_plugin.services.ledger.integrity import verify_ledger
from loyalty_plugin.services.merchants.registration import create_merchant
from tests.webhooks.generate import generate_events


def deliver(
    session: Session, events: list[dict[str, Any]], hooks: Any, now, *, queue: bool = False
) -> None:
    """Send ``events`` through the intake; with ``queue``, store them and let a worker apply
    them in batches of 50."""
    settings = IntakeSettings(queue=queue, batch_size=50)
    for event in events:
        body = {k: v for k, v in event.items() if k != "webhook_id"}
        answer = process_host_event(
            session, body, event_id=event["webhook_id"], hooks=hooks, settings=settings, now=now
        )
        assert answer.status in (200, 202), answer.body
        if queue and answer.status == 202:
            assert answer.body["status"] == "accepted", answer.body
    while queue and apply_queued(session, hooks=hooks, settings=settings, now=now).claimed:
        pass


def ledger_of(session: Session, merchant_id: str) -> dict[str, Any]:
    """Per customer: balance and lifetime counters; per customer and reference: net points.

    Net per reference, not per entry: an invoice cancelled before it was paid earns nothing,
    one cancelled after earns and gives back; both leave it at 0 points.
    """
    accounts = session.execute(
        select(
            Customer.host_customer_id,
            Account.balance,
            Account.lifetime_earned,
            Account.lifetime_redeemed,
        )
        .join(Account, Account.customer_id == Customer.id)
        .where(Account.merchant_id == merchant_id)
    )
    nets = session.execute(
        select(
            Customer.host_customer_id,
            LedgerEntry.reference_type,
            LedgerEntry.reference_id,
            func.sum(LedgerEntry.points),
        )
        .join(Account, Account.id == LedgerEntry.account_id)
        .join(Customer, Customer.id == Account.customer_id)
        .where(LedgerEntry.merchant_id == merchant_id)
        .group_by(Customer.host_customer_id, LedgerEntry.reference_type, LedgerEntry.reference_id)
    )
    return {
        "accounts": {row[0]: tuple(row[1:]) for row in accounts},
        "references": {tuple(row[:3]): int(row[3]) for row in nets if int(row[3])},
    }


@pytest.mark.parametrize("count", [1000])
@pytest.mark.parametrize("mode", ["sync", "queue"])
def test_three_shuffled_copies_reach_the_same_ledger_as_one_ordered_pass(
    session, pm, now, backend, count, mode
) -> None:
    """1,000 seeded events (300 on MariaDB, to keep the suite fast), sent once in order to
    one merchant and three times each in shuffled order (a tenth also under a second
    webhook-id) to another, leave both with the same points, to the point, and a sound
    ledger; nothing is left waiting or pending. In ``queue`` mode (high-load intake) the
    shuffled copies are stored and a worker applies them in batches: the same ledger as
    the ordered synchronous pass."""
    count = 300 if backend == "mariadb" else count
    for merchant_id in ("ordered", "shuffled"):
        create_merchant(session, merchant_id=merchant_id, name=merchant_id, currency="EUR")
    session.commit()
    ordered = generate_events(count, merchant_id="ordered")
    copies = generate_events(count, merchant_id="shuffled") * 3
    renamed = [e | {"webhook_id": e["webhook_id"] + "-again"} for e in copies[: count // 10]]
    copies += renamed
    random.Random(11).shuffle(copies)

    deliver(session, ordered, pm.hook, now)
    deliver(session, copies, pm.hook, now, queue=mode == "queue")

    expected = ledger_of(session, "ordered")
    assert sum(balance for balance, *_ in expected["accounts"].values()) > 0
    assert ledger_of(session, "shuffled") == expected
    assert verify_ledger(session) == []
    left = session.scalar(
        select(func.count()).where(
            WebhookEvent.status.in_((InboxStatus.WAITING, InboxStatus.PENDING, InboxStatus.QUEUED))
        )
    )
    assert left == 0
