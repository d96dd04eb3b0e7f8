"""The e-mail outbox for staff and "run now" for one merchant, against a real SMTP server
(issue 15): retry and cancel change what the send job does; a merchant's run sends that
merchant's e-mails only; the scheduler and "run now" racing send each e-mail once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from loyalty_plugin.domain.errors import InvalidOperation, NotFound
from loyalty_plugin.jobs.overview import run_for_merchant
from loyalty_plugin.jobs.runner import JobRunner
from loyalty_plugin.models import (
    Account,
    AuditEntry,
    Customer,
    EmailMessage,
    EmailStatus,
    JobRun,
    Merchant,
)
from loyalty_plugin.services.messaging import email_outbox
from tests.email.conftest import T0
from tests.email.test_templates_and_sending import earn


@pytest.fixture
def bo(db, shop) -> Account:
    """A customer of another merchant, opted in to e-mail."""
    db.add(Merchant(id="bakery", name="Padaria Bo", currency="EUR", timezone="UTC"))
    db.flush()
    customer = Customer(merchant_id="bakery", host_customer_id="7", first_name="Bo",
                        email="bo@example.com", email_opt_in=True, created_at=T0)  # fmt: skip
    db.add(customer)
    db.flush()
    account = Account(merchant_id="bakery", customer_id=customer.id, created_at=T0)
    db.add(account)
    db.commit()
    return account


def _statuses(db) -> dict[str, list[str]]:
    db.expire_all()
    rows = db.scalars(select(EmailMessage).order_by(EmailMessage.id)).all()
    found: dict[str, list[str]] = {}
    for row in rows:
        found.setdefault(row.merchant_id, []).append(row.status.value)
    db.rollback()
    return found


def test_run_now_for_one_merchant_sends_its_emails_only(db, ana, bo, inbox, mail_app) -> None:
    """The run is recorded with the merchant and the person, and audited; Bo's e-mail waits."""
    earn(db, ana, 10)
    earn(db, bo, 20)
    outcome = run_for_merchant(mail_app, "send-emails", merchant_id="shop",
                               actor="staff:3 Ana Owner", now=datetime.now(UTC))  # fmt: skip
    assert outcome.status == "succeeded" and outcome.rows == 1
    assert [m["To"] for m in inbox.messages] == ["ana@example.com"]
    assert _statuses(db) == {"shop": ["sent"], "bakery": ["queued"]}
    run = db.get(JobRun, outcome.run_id)
    assert (run.merchant_id, run.started_by, run.trigger) == ("shop", "staff:3 Ana Owner", "manual")
    audit = db.scalars(select(AuditEntry).where(AuditEntry.action == "job.run")).one()
    assert (audit.merchant_id, audit.actor_name, audit.after["rows"]) == ("shop", "Ana Owner", 1)
    db.rollback()
    everyone = JobRunner(mail_app).run_now("send-emails")
    assert everyone.rows == 1 and len(inbox.messages) == 2


def test_every_builtin_job_runs_for_one_merchant(db, ana, bo, mail_app) -> None:
    """Each built-in job accepts a merchant's run and succeeds (its queries take the scope)."""
    runner = JobRunner(mail_app)
    for name, job in sorted(runner.jobs.items()):
        assert job.per_merchant, name
        outcome = runner.run_now(name, merchant_id="bakery", started_by="cli:test")
        assert outcome.status == "succeeded", (name, outcome.detail)


def test_the_scheduler_and_run_now_at_once_send_each_email_once(db, ana, inbox, mail_app) -> None:
    """Both take the job's one lease: one runs, the other is skipped and says why."""
    for points in range(1, 9):
        earn(db, ana, points)
    barrier = threading.Barrier(2)
    outcomes = []

    def scheduled() -> None:
        runner = JobRunner(mail_app)
        barrier.wait()
        outcomes.append(runner.run_scheduled("send-emails"))

    def run_now() -> None:
        barrier.wait()
        outcomes.append(run_for_merchant(mail_app, "send-emails", merchant_id="shop",
                                         actor="staff:3 Ana", now=datetime.now(UTC)))  # fmt: skip

    threads = [threading.Thread(target=scheduled), threading.Thread(target=run_now)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    statuses = sorted(o.status for o in outcomes)
    assert statuses in (["skipped", "succeeded"], ["succeeded", "succeeded"]), outcomes
    JobRunner(mail_app).run_now("send-emails")  # whatever a skipped run left
    ids = [m["Message-ID"] for m in inbox.messages]
    assert len(ids) == 8 and len(set(ids)) == 8
    assert _statuses(db) == {"shop": ["sent"] * 8}
    assert sum(o.rows for o in outcomes if o.status == "succeeded") == 8


def test_retry_sends_a_failed_email_again_and_cancel_stops_a_queued_one(
    db, ana, bo, inbox, mail_app
) -> None:
    """A failed e-mail retried goes out with the same Message-ID; a cancelled one never does."""
    inbox.refusals.append("550 5.1.1 no such mailbox")
    earn(db, ana, 10)
    JobRunner(mail_app).run_now("send-emails")
    failed = db.scalars(select(EmailMessage)).one()
    assert failed.status == EmailStatus.FAILED
    db.rollback()
    earn(db, ana, 20)
    queued = db.scalars(select(EmailMessage).where(EmailMessage.id != failed.id)).one()
    now = datetime.now(UTC)
    with pytest.raises(InvalidOperation):
        email_outbox.retry_email(db, merchant_id="shop", email_id=queued.id, now=now, actor="t")
    with pytest.raises(NotFound):
        email_outbox.retry_email(db, merchant_id="bakery", email_id=failed.id, now=now, actor="t")
    email_outbox.retry_email(db, merchant_id="shop", email_id=failed.id, now=now, actor="t")
    email_outbox.cancel_email(db, merchant_id="shop", email_id=queued.id, now=now, actor="t")
    db.commit()
    JobRunner(mail_app).run_now("send-emails")
    (sent,) = inbox.messages
    db.expire_all()
    assert sent["Message-ID"] == db.get(EmailMessage, failed.id).message_id
    assert db.get(EmailMessage, failed.id).status == EmailStatus.SENT
    assert db.get(EmailMessage, queued.id).status == EmailStatus.CANCELLED
    detail = email_outbox.get_email(db, merchant_id="shop", email_id=failed.id)
    assert detail.stored and detail.rendered.subject == sent["Subject"]
    assert [a.succeeded for a in detail.attempts] == [False, True]
    db.rollback()


def test_an_email_being_sent_cannot_be_cancelled(db, ana, mail_app) -> None:
    """While the send job holds it, cancel is refused (it may be on its way already)."""
    earn(db, ana, 10)
    message = db.scalars(select(EmailMessage)).one()
    message.claimed_until = datetime(2999, 1, 1, tzinfo=UTC)
    db.commit()
    with pytest.raises(InvalidOperation, match="being sent"):
        email_outbox.cancel_email(db, merchant_id="shop", email_id=message.id,
                                  now=datetime.now(UTC), actor="t")  # fmt: skip
    db.rollback()
