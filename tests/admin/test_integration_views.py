"""The Integration screens with the test client: host events, webhook secrets, API keys."""

from __future__ import annotations

import json
import re
from datetime import timedelta

from flask import Flask
from sqlalchemy import select

from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import (
    ApiKey,
    AuditEntry,
    Customer,
    InboxStatus,
    OutboxAttempt,
    OutboxMessage,
    OutboxStatus,
    WebhookEndpoint,
    WebhookEvent,
    WebhookSecret,
)
from loyalty_plugin.models.base import utcnow
from tests.admin.conftest import ensure_merchant


def add_event(
    app: Flask,
    status: InboxStatus = InboxStatus.DEAD,
    host_id: str = "c9",
    merchant: str = "shop",
    error: str | None = "OperationalError: the database went away",
) -> int:
    """A stored host event (a valid ``customer.created``) in ``status``; returns its id."""
    body = {
        "type": "customer.created",
        "merchant_id": merchant,
        "occurred_at": "2026-01-15T12:00:00Z",
        "data": {"customer": {"id": host_id, "first_name": "Rita", "email": "rita@example.com"}},
    }
    raw = json.dumps(body)
    with app.app_context():
        ensure_merchant(merchant)
        session = get_session()
        row = WebhookEvent(
            merchant_id=merchant,
            webhook_id=f"msg_{host_id}",
            event_type="customer.created",
            status=status,
            source="webhook",
            headers={"content-type": "application/json"},
            body=raw,
            body_sha256="0" * 64,
            received_at=utcnow() - timedelta(hours=1),
            attempts=12 if status == InboxStatus.DEAD else 0,
            last_error=error if status != InboxStatus.PROCESSED else None,
        )
        session.add(row)
        session.commit()
        return row.id


def _customers(app: Flask) -> list[str]:
    with app.app_context():
        return list(get_session().scalars(select(Customer.host_customer_id)))


def _actions(app: Flask) -> list[str]:
    with app.app_context():
        return list(get_session().scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


# -- host events ---------------------------------------------------------------------------


def test_a_manager_reads_the_inbox_with_filters_in_the_url(app, admin_client) -> None:
    manager = admin_client(role="manager")
    dead = add_event(app, InboxStatus.DEAD, "c1")
    done = add_event(app, InboxStatus.PROCESSED, "c2")
    page = manager.get(manager.m("/integration"))
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert f'data-event="{dead}" data-status="dead"' in text
    assert f'data-event="{done}"' in text
    assert "OperationalError: the database went away" in text
    assert "Retry all failed" not in text  # owners retry
    only_dead = manager.get(manager.m("/integration?status=dead")).get_data(as_text=True)
    assert f'data-event="{dead}"' in only_dead and f'data-event="{done}"' not in only_dead
    bad = manager.get(manager.m("/integration?status=lost"))
    assert bad.status_code == 422
    assert "Status is one of" in bad.get_data(as_text=True)


def test_an_events_page_shows_its_raw_body_and_another_merchants_is_404(app, admin_client):
    manager = admin_client(role="manager")
    event_id = add_event(app, InboxStatus.DEAD, "c1")
    page = manager.get(manager.m(f"/integration/events/{event_id}"))
    assert page.status_code == 200
    assert "rita@example.com" in page.get_data(as_text=True)
    other = add_event(app, InboxStatus.DEAD, "c7", merchant="other")
    assert manager.get(manager.m(f"/integration/events/{other}")).status_code == 404


def test_an_owner_retries_one_dead_event_and_it_is_audited(app, admin_client) -> None:
    owner = admin_client()
    event_id = add_event(app, InboxStatus.DEAD, "c1")
    answer = owner.post(owner.m(f"/integration/events/{event_id}/retry"))
    assert answer.status_code == 303
    page = owner.get(answer.headers["Location"]).get_data(as_text=True)
    assert "it is now processed" in page
    assert _customers(app) == ["c1"]
    assert "host_event.retried" in _actions(app)
    # a second retry finds nothing to do and changes nothing
    again = owner.post(owner.m(f"/integration/events/{event_id}/retry"))
    assert "nothing was retried" in owner.get(again.headers["Location"]).get_data(as_text=True)
    assert _actions(app).count("host_event.retried") == 1


def test_retry_all_failed_takes_this_merchants_dead_events_only(app, admin_client) -> None:
    owner = admin_client()
    add_event(app, InboxStatus.DEAD, "c1")
    add_event(app, InboxStatus.PENDING, "c2")
    add_event(app, InboxStatus.DEAD, "c3", merchant="other")
    answer = owner.post(owner.m("/integration/events/retry-failed"))
    assert answer.status_code == 303
    assert "2 event(s) retried: 2 processed" in owner.get(answer.headers["Location"]).get_data(
        as_text=True
    )
    assert sorted(_customers(app)) == ["c1", "c2"]


# -- webhook secrets -----------------------------------------------------------------------


def _secrets(app: Flask) -> list[WebhookSecret]:
    with app.app_context():
        return list(get_session().scalars(select(WebhookSecret).order_by(WebhookSecret.id)))


def test_an_owner_rotates_the_secret_and_sees_it_once(app, admin_client) -> None:
    owner = admin_client()
    created = owner.post(owner.m("/integration/secrets"), {"label": "first", "form_key": "k1"})
    assert created.status_code == 200
    first = _secrets(app)[0].secret
    assert first in created.get_data(as_text=True)
    until = (utcnow() + timedelta(days=3)).date().isoformat()
    rotated = owner.post(
        owner.m("/integration/secrets/rotate"), {"overlap_until": until, "form_key": "k2"}
    )
    assert rotated.status_code == 200
    old, new = _secrets(app)
    assert new.secret in rotated.get_data(as_text=True)
    assert old.revoked_at is not None and old.revoked_at.date().isoformat() == until
    listing = owner.get(owner.m("/integration/secrets")).get_data(as_text=True)
    assert new.secret not in listing and first not in listing
    assert "Accepted until" in listing
    assert _actions(app)[-2:] == ["webhook_secret.created", "webhook_secret.rotated"]


def test_a_bad_overlap_re_renders_at_its_field_and_changes_nothing(app, admin_client) -> None:
    owner = admin_client()
    owner.post(owner.m("/integration/secrets"), {"form_key": "k1"})
    for value in ("", "31/12/2026", (utcnow() - timedelta(days=2)).date().isoformat()):
        answer = owner.post(
            owner.m("/integration/secrets/rotate"), {"overlap_until": value, "label": "typed"}
        )
        assert answer.status_code == 422
        text = answer.get_data(as_text=True)
        assert re.search(r'id="f-rotate-until-error"[^>]*>[^<]+', text)
        assert 'value="typed"' in text
    assert len(_secrets(app)) == 1


def test_a_double_submit_makes_one_secret(app, admin_client) -> None:
    owner = admin_client()
    owner.post(owner.m("/integration/secrets"), {"form_key": "same"})
    twice = owner.post(owner.m("/integration/secrets"), {"form_key": "same"})
    assert twice.status_code == 422
    assert "This form was sent already" in twice.get_data(as_text=True)
    assert len(_secrets(app)) == 1


def test_revoking_a_secret_of_another_merchant_is_refused(app, admin_client) -> None:
    owner = admin_client()
    admin_client(merchant="other").post(
        admin_client(merchant="other").m("/integration/secrets", "other"), {"form_key": "o"}
    )
    theirs = _secrets(app)[0]
    answer = owner.post(owner.m(f"/integration/secrets/{theirs.id}/revoke"))
    assert answer.status_code == 422
    assert _secrets(app)[0].revoked_at is None
    mine = owner.post(owner.m("/integration/secrets"), {"form_key": "m"})
    assert mine.status_code == 200
    own = _secrets(app)[-1]
    revoked = owner.post(owner.m(f"/integration/secrets/{own.id}/revoke"))
    assert revoked.status_code == 303
    assert _secrets(app)[-1].revoked_at is not None


# -- API keys ------------------------------------------------------------------------------


def test_an_owner_creates_a_key_uses_it_once_shown_and_revokes_it(app, admin_client) -> None:
    owner = admin_client()
    made = owner.post(
        owner.m("/integration/api-keys"), {"name": "checkout", "scope": "read", "form_key": "a"}
    )
    assert made.status_code == 200
    token = re.search(r'value="(lk_[a-z0-9]{8}_[^"]+)"', made.get_data(as_text=True)).group(1)
    api = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    assert api.get("/loyalty/api/v1/customers?merchant_id=shop", headers=headers).status_code == 200
    listing = owner.get(owner.m("/integration/api-keys")).get_data(as_text=True)
    assert token not in listing and "checkout" in listing and "never" not in listing
    prefix = token[:11]
    revoked = owner.post(owner.m(f"/integration/api-keys/{prefix}/revoke"))
    assert revoked.status_code == 303
    assert api.get("/loyalty/api/v1/customers?merchant_id=shop", headers=headers).status_code == 401
    assert _actions(app)[-2:] == ["api_key.created", "api_key.revoked"]


def test_a_bad_key_form_re_renders_at_its_field(app, admin_client) -> None:
    owner = admin_client()
    no_name = owner.post(owner.m("/integration/api-keys"), {"name": " ", "scope": "read"})
    assert no_name.status_code == 422
    assert 'id="f-name-error"' in no_name.get_data(as_text=True)
    bad_scope = owner.post(owner.m("/integration/api-keys"), {"name": "x", "scope": "root"})
    assert bad_scope.status_code == 422
    text = bad_scope.get_data(as_text=True)
    assert 'id="f-scope-error"' in text and 'value="x"' in text
    with app.app_context():
        assert get_session().scalars(select(ApiKey)).all() == []


def test_managers_cannot_open_secrets_or_keys(admin_client) -> None:
    manager = admin_client(role="manager")
    assert manager.get(manager.m("/integration/secrets")).status_code == 403
    assert manager.get(manager.m("/integration/api-keys")).status_code == 403
    page = manager.get(manager.m("/integration")).get_data(as_text=True)
    assert "Webhook secrets" not in page and "API keys" not in page


# -- outgoing webhooks ---------------------------------------------------------------------


def add_message(app: Flask, merchant: str = "shop", status_code: int = 500) -> int:
    """A dead outgoing ``points.earned`` whose last attempt got ``status_code``."""
    with app.app_context():
        ensure_merchant(merchant)
        session = get_session()
        now = utcnow()
        message = OutboxMessage(
            merchant_id=merchant, message_id=f"msg_{merchant}_{status_code}",
            event_type="points.earned", payload={"type": "points.earned"},
            status=OutboxStatus.DEAD, attempts=12, created_at=now - timedelta(hours=2),
            last_error=f"HTTP {status_code}",
        )  # fmt: skip
        session.add(message)
        session.flush()
        session.add(OutboxAttempt(message_id=message.id, url="https://crm.example.com/hook",
                                  attempted_at=now, status_code=status_code,
                                  error=f"HTTP {status_code}", duration_ms=42))  # fmt: skip
        session.commit()
        return message.id


def test_an_owner_sets_the_endpoint_and_a_bad_url_is_answered_at_its_field(
    app, admin_client
) -> None:
    owner = admin_client()
    bad = owner.post(owner.m("/integration/outgoing"), {"url": "ftp://crm", "enabled": "on"})
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    assert 'id="f-url-error"' in text and 'value="ftp://crm"' in text
    good = owner.post(
        owner.m("/integration/outgoing"), {"url": "https://crm.example.com/hook", "enabled": "on"}
    )
    assert good.status_code == 303
    with app.app_context():
        endpoint = get_session().get(WebhookEndpoint, "shop")
        assert endpoint.url == "https://crm.example.com/hook" and endpoint.enabled
    assert _actions(app)[-1] == "webhook_endpoint.updated"


def test_the_delivery_log_shows_the_answer_and_an_owner_retries(app, admin_client) -> None:
    owner = admin_client()
    mine = add_message(app)
    theirs = add_message(app, merchant="other", status_code=503)
    page = owner.get(owner.m("/integration/outgoing")).get_data(as_text=True)
    assert 'data-message="msg_shop_500" data-status="dead"' in page
    assert "HTTP 500" in page and "msg_other_503" not in page
    assert owner.post(owner.m(f"/integration/outgoing/{theirs}/retry")).status_code == 404
    assert owner.post(owner.m(f"/integration/outgoing/{mine}/retry")).status_code == 303
    with app.app_context():
        assert get_session().get(OutboxMessage, mine).status == OutboxStatus.PENDING
        assert get_session().get(OutboxMessage, theirs).status == OutboxStatus.DEAD
    assert _actions(app)[-1] == "outbox_message.retried"


def test_the_endpoint_keeps_the_events_ticked_and_refuses_none(app, admin_client) -> None:
    owner = admin_client()
    form = {"url": "https://crm.example.com/hook", "enabled": "on", "event_types_shown": "1"}
    none = owner.post(owner.m("/integration/outgoing"), form)
    assert none.status_code == 422 and 'id="f-event_types-error"' in none.get_data(as_text=True)
    some = owner.post(
        owner.m("/integration/outgoing"),
        form | {"event_types": ["coupon.created", "level.changed"]},
    )
    assert some.status_code == 303
    with app.app_context():
        endpoint = get_session().get(WebhookEndpoint, "shop")
        assert endpoint.event_types == ["coupon.created", "level.changed"]
    page = owner.get(owner.m("/integration/outgoing")).get_data(as_text=True)
    assert 'value="level.changed" checked' in page and 'value="points.earned" checked' not in page
    assert owner.post(owner.m("/integration/outgoing/ping")).status_code == 303
    assert _actions(app)[-1] == "webhook_endpoint.pinged"
