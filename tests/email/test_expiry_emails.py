"""Expiry reminders and notices, end to end through a real SMTP server."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from loyalty_plugin.domain.ledger import EntryKind
from loyalty_plugin.models import Account, EmailMessage, ExpiryReminder, LedgerEntry
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.ledger.integrity import verify_ledger
from tests.email.conftest import T0


def earn_expiring(db, account, points: int, *, days: int) -> None:
    """Points earned at T0 that expire ``days`` later."""
    ledger.earn(
        db,
        account_id=account.id,
        points=points,
        now=T0,
        actor="t",
        expires_at=T0 + timedelta(days=days),
    )


def test_575_points_one_reminder_one_expiry_one_notice(db, ana, inbox, run) -> None:
    """500 of 575 points expiring in 90 days: one 30-day reminder, one expiry, one notice."""
    earn_expiring(db, ana, 500, days=90)
    earn_expiring(db, ana, 75, days=400)
    db.commit()
    reminder_day = T0 + timedelta(days=61)
    for hour in range(3):
        run("expiry-reminders", reminder_day + timedelta(hours=hour))
        run("send-emails", reminder_day + timedelta(hours=hour))
    assert len(inbox.of("You earned")) == 2
    reminders = inbox.of("expire on")
    assert [m["Subject"] for m in reminders] == [
        "Your 500 points with Café Lumière expire on April 15, 2026"
    ]
    assert "expire on April 15, 2026, in 29 days." in reminders[0].get_body("plain").get_content()
    assert db.scalar(select(ExpiryReminder.offset_days)) == 30
    db.rollback()  # end the read: on SQLite every transaction holds the write lock

    after = T0 + timedelta(days=91)
    run("expire-points", after)
    run("expire-points", after + timedelta(minutes=1))
    run("send-emails", after)
    run("send-emails", after + timedelta(minutes=1))
    db.expire_all()
    assert db.get(Account, ana.id).balance == 75
    expired = db.scalars(select(LedgerEntry).where(LedgerEntry.kind == EntryKind.EXPIRE)).all()
    assert [(e.points, e.balance_after) for e in expired] == [(-500, 75)]
    notices = inbox.of("have expired")
    assert [m["Subject"] for m in notices] == ["500 points with Café Lumière have expired"]
    assert "Your balance now: 75 points" in notices[0].get_body("plain").get_content()
    assert "<strong>75 points</strong>" in notices[0].get_body("html").get_content()
    assert verify_ledger(db) == []


def test_a_late_run_sends_only_the_nearest_reminder(db, ana, inbox, run) -> None:
    """Reminders at 30 and 7 days; a first run 5 days before sends the 7-day one alone."""
    earn_expiring(db, ana, 40, days=60)
    db.commit()
    run("expiry-reminders", T0 + timedelta(days=55))
    run("expiry-reminders", T0 + timedelta(days=58))
    offsets = db.scalars(select(ExpiryReminder.offset_days)).all()
    db.rollback()
    assert offsets == [7]
    run("send-emails", T0 + timedelta(days=58))
    assert len(inbox.of("expire on")) == 1


def test_each_offset_is_sent_once_per_lot(db, ana, inbox, run) -> None:
    """On time, each offset goes once: the 30-day and then the 7-day reminder."""
    earn_expiring(db, ana, 40, days=60)
    db.commit()
    for day in (31, 32, 40, 53, 54, 59):
        run("expiry-reminders", T0 + timedelta(days=day))
    run("send-emails", T0 + timedelta(days=59))
    offsets = sorted(db.scalars(select(ExpiryReminder.offset_days)).all())
    assert offsets == [7, 30]
    assert [m["Subject"] for m in inbox.of("expire on")] == [
        "Your 40 points with Café Lumière expire on March 16, 2026"
    ] * 2
    count = db.scalar(select(func.count()).select_from(EmailMessage))
    assert count == 3  # the receipt and the two reminders
