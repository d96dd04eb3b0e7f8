"""``/api/v1/jobs`` and ``/api/v1/emails`` (issue 15): the same answers as the admin's Jobs
and Outbox screens, for the key's merchant only; admin scope."""

from __future__ import annotations

from sqlalchemy import select

from loyalty_plugin.email import outbox as queue
from loyalty_plugin.models import AuditEntry, EmailMessage, EmailStatus, JobRun
from loyalty_plugin.models.base import utcnow


def _email(db, merchant: str, to: str, status: EmailStatus = EmailStatus.QUEUED) -> int:
    message = queue.queue(db, merchant_id=merchant, template="welcome", dedupe_key=to,
                          customer_id=None, to_address=to, sms_to=None, context={},
                          now=utcnow())  # fmt: skip
    message.status = status
    db.commit()
    return message.id


def test_jobs_are_listed_and_run_for_the_keys_merchant(api, db) -> None:
    listed = api.get("/jobs", scope="admin")
    assert listed.status_code == 200, listed.json
    names = {job["name"] for job in listed.json["data"]}
    assert {"expire-points", "send-emails", "review-levels"} <= names
    assert api.get("/jobs", scope="read").status_code == 403
    ran = api.post("/jobs/expire-points/run", scope="admin")
    assert ran.status_code == 200, ran.json
    assert ran.json["status"] == "succeeded"
    run = db.get(JobRun, ran.json["run_id"])
    assert run.merchant_id == "shop" and run.started_by.startswith("api:")
    audit = db.scalars(select(AuditEntry).where(AuditEntry.action == "job.run")).one()
    assert audit.merchant_id == "shop"
    db.rollback()
    assert api.post("/jobs/nothing-like-it/run", scope="admin").status_code == 404
    again = api.get("/jobs", scope="admin").json["data"]
    [expire] = [job for job in again if job["name"] == "expire-points"]
    assert expire["runs"][0]["id"] == run.id and expire["runs"][0]["for_merchant"] is True
    other = api.client.get("/loyalty/api/v1/jobs",
                           headers={"Authorization": f"Bearer {api.keys['other']}"})  # fmt: skip
    [theirs] = [job for job in other.json["data"] if job["name"] == "expire-points"]
    assert theirs["runs"] == []  # another merchant's run never shows


def test_emails_list_retry_and_cancel(api, db) -> None:
    queued = _email(db, "shop", "ana@example.com")
    failed = _email(db, "shop", "bo@example.com", EmailStatus.FAILED)
    theirs = _email(db, "other", "eve@example.com")
    page = api.get("/emails", scope="admin").json
    assert [e["id"] for e in page["data"]] == [failed, queued]
    only = api.get("/emails", scope="admin", status="failed").json["data"]
    assert [e["id"] for e in only] == [failed]
    bad = api.get("/emails", scope="admin", status="lost")
    assert bad.status_code == 422 and "status" in bad.json["error"]["fields"]
    assert api.post(f"/emails/{failed}/retry", scope="admin").json["status"] == "queued"
    assert api.post(f"/emails/{queued}/cancel", scope="admin").json["status"] == "cancelled"
    assert api.post(f"/emails/{queued}/cancel", scope="admin").status_code == 409
    assert api.post(f"/emails/{theirs}/cancel", scope="admin").status_code == 404
    db.expire_all()
    assert db.get(EmailMessage, theirs).status == EmailStatus.QUEUED
