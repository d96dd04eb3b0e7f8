"""The Jobs and Outbox screens with the test client (issue 15): who sees what, "run now"
for one shop, retry and cancel, each audited; another shop's runs and e-mails never show."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from sqlalchemy import func, select

from loyalty_plugin.email import outbox as queue
from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import AuditEntry, EmailMessage, EmailStatus, JobRun, Merchant
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.job_runs import claim_run, finish_run
from loyalty_plugin.services.merchants.registration import create_merchant

CONTEXT = {
    "merchant": {"name": "Shop"},
    "customer": {"first_name": "Ana", "last_name": "Silva", "name": "Ana Silva", "email": ""},
    "balance": 120,
    "level": None,
}


def _email(app: Flask, merchant: str, *, to: str, status: EmailStatus = EmailStatus.QUEUED,
           error: str | None = None) -> int:  # fmt: skip
    with app.app_context():
        session = get_session()
        if session.get(Merchant, merchant) is None:
            create_merchant(session, merchant_id=merchant, name=merchant.title(), currency="EUR")
        message = queue.queue(
            session, merchant_id=merchant, template="welcome", dedupe_key=f"k-{to}",
            customer_id=None, to_address=to, sms_to=None, context=CONTEXT, now=utcnow(),
        )  # fmt: skip
        message.status, message.last_error = status, error
        if status == EmailStatus.FAILED:
            message.attempts = 5
        if status == EmailStatus.SENT:
            message.attempts, message.sent_at = 1, utcnow()
        session.commit()
        return message.id


def _audits(app: Flask, action: str) -> list[AuditEntry]:
    with app.app_context():
        return list(get_session().scalars(select(AuditEntry).where(AuditEntry.action == action)))


def _run_of(app: Flask, merchant: str | None, job: str = "expire-points", error: str | None = None):
    with app.app_context():
        session = get_session()
        now = utcnow()
        claim = claim_run(session, job=job, scheduled_for=now, trigger="manual", owner="t",
                          now=now, lease=timedelta(minutes=1), merchant_id=merchant,
                          started_by="staff:9 Someone Else")  # fmt: skip
        finish_run(session, claim, job=job, now=now, rows=77, error=error)
        session.commit()


def test_the_jobs_page_lists_every_job_and_only_this_shops_runs(app, admin_client) -> None:
    """Managers read the jobs; runs for all shops show, another shop's runs never do."""
    manager = admin_client(role="manager")
    with app.app_context():
        create_merchant(get_session(), merchant_id="other", name="Other", currency="EUR")
        get_session().commit()
    _run_of(app, "other", error="RuntimeError: other shop's secret")
    _run_of(app, None, job="send-emails")
    page = manager.get(manager.m("/jobs")).get_data(as_text=True)
    for name in ("expire-points", "expiry-reminders", "review-levels", "birthday-greetings",
                 "send-emails", "deliver-webhooks", "retry-host-events"):  # fmt: skip
        assert f'data-job="{name}"' in page
    assert "other shop" not in page and "Someone Else" not in page
    assert "all shops" in page  # the deployment-wide send-emails run
    assert "Run now" not in page  # owners only
    assert manager.post(manager.m("/jobs/expire-points/run")).status_code == 403


def test_an_owner_runs_a_job_for_their_shop_only(app, admin_client) -> None:
    """The run is recorded with the shop and the person, and audited."""
    owner = admin_client(role="owner")
    answer = owner.post(owner.m("/jobs/send-emails/run"))
    assert answer.status_code == 303
    page = owner.get(answer.headers["Location"]).get_data(as_text=True)
    assert "send-emails ran for this shop" in page
    with app.app_context():
        run = get_session().scalars(select(JobRun).where(JobRun.job == "send-emails")).one()
    assert run.merchant_id == "shop" and run.trigger == "manual"
    assert run.started_by.startswith("staff:")
    assert f'data-run="{run.id}"' in page and "this shop" in page
    [audit] = _audits(app, "job.run")
    assert audit.merchant_id == "shop" and audit.target_id == "send-emails"
    assert audit.after["status"] == "succeeded"
    assert owner.post(owner.m("/jobs/no-such-job/run")).status_code == 404
    assert owner.post(owner.m("/jobs/send-emails/run"), csrf="").status_code in (400, 403)


def test_the_outbox_lists_filters_and_shows_one_email(app, admin_client) -> None:
    manager = admin_client(role="manager")
    queued = _email(app, "shop", to="ana@example.com")
    failed = _email(app, "shop", to="bo@example.com", status=EmailStatus.FAILED,
                    error="550 mailbox unavailable")  # fmt: skip
    theirs = _email(app, "other", to="eve@example.com")
    page = manager.get(manager.m("/outbox")).get_data(as_text=True)
    assert f'data-email="{queued}"' in page and f'data-email="{failed}"' in page
    assert "eve@example.com" not in page
    only_failed = manager.get(manager.m("/outbox?status=failed")).get_data(as_text=True)
    assert f'data-email="{failed}"' in only_failed and f'data-email="{queued}"' not in only_failed
    assert "550 mailbox unavailable" in only_failed
    bad = manager.get(manager.m("/outbox?status=lost"))
    assert bad.status_code == 422 and 'id="f-status-error"' in bad.get_data(as_text=True)
    one = manager.get(manager.m(f"/outbox/{queued}"))
    assert one.status_code == 200
    text = one.get_data(as_text=True)
    assert 'data-testid="email-subject"' in text and "Preview" in text
    assert manager.get(manager.m(f"/outbox/{queued}/body.html")).status_code == 200
    assert manager.get(manager.m(f"/outbox/{theirs}")).status_code == 404
    staff = admin_client(role="staff")
    assert staff.get(staff.m("/outbox")).status_code == 403


def test_retry_a_failed_email_and_cancel_a_queued_one(app, admin_client) -> None:
    """Each changes one e-mail of this shop, once, with an audit row; the wrong state is refused."""
    manager = admin_client(role="manager")
    queued = _email(app, "shop", to="ana@example.com")
    failed = _email(app, "shop", to="bo@example.com", status=EmailStatus.FAILED, error="550")
    theirs = _email(app, "other", to="eve@example.com")
    assert manager.post(manager.m(f"/outbox/{failed}/retry")).status_code == 303
    assert manager.post(manager.m(f"/outbox/{queued}/cancel")).status_code == 303
    again = manager.post(manager.m(f"/outbox/{queued}/cancel"))
    assert "Nothing changed" in manager.get(again.headers["Location"]).get_data(as_text=True)
    assert manager.post(manager.m(f"/outbox/{theirs}/cancel")).status_code == 404
    with app.app_context():
        session = get_session()
        assert session.get(EmailMessage, failed).status == EmailStatus.QUEUED
        assert session.get(EmailMessage, failed).attempts == 0
        assert session.get(EmailMessage, queued).status == EmailStatus.CANCELLED
        assert session.get(EmailMessage, theirs).status == EmailStatus.QUEUED
        counted = session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action.in_(("email.retried", "email.cancelled"))))  # fmt: skip
    assert counted == 2
    [cancel] = _audits(app, "email.cancelled")
    assert cancel.before["status"] == "queued" and cancel.after["status"] == "cancelled"
