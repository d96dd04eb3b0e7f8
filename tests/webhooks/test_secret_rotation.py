"""Rotating a webhook secret with an overlap: both secrets verify until its end, then only
the new one; outgoing webhooks are signed with the new one from the start."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pluggy
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.errors import InvalidOperation, NotFound, ValidationError
from loyalty_plugin.domain.signatures import signature_headers
from loyalty_plugin.models import AuditEntry, WebhookSecret
from loyalty_plugin.services.intake.webhooks import receive_webhook
from loyalty_plugin.services.merchants.secrets import (
    active_secrets,
    create_secret,
    revoke_secret,
    rotate_secret,
)
from tests.webhooks.conftest import SECRET, SETTINGS, customer, event

OVERLAP = timedelta(days=7)


def _post(session: Session, pm: pluggy.PluginManager, secret: str, at: datetime, msg: str):
    body = json.dumps(
        event("customer.created", {"customer": customer(msg)}, merchant_id="shop")
    ).encode()
    headers = signature_headers([secret], msg_id=msg, timestamp=int(at.timestamp()), body=body)
    return receive_webhook(
        session,
        body=body,
        headers=headers | {"content-type": "application/json"},
        hooks=pm.hook,
        settings=SETTINGS,
        now=at,
    )


def test_the_old_secret_verifies_during_the_overlap_and_is_refused_after(
    shop: Session, pm: pluggy.PluginManager, now: datetime
) -> None:
    new = rotate_secret(shop, merchant_id="shop", overlap_until=now + OVERLAP, now=now)
    shop.commit()
    assert new.secret != SECRET
    assert _post(shop, pm, SECRET, now + timedelta(days=1), "old-during").status == 200
    assert _post(shop, pm, new.secret, now + timedelta(days=1), "new-during").status == 200
    after = now + OVERLAP + timedelta(seconds=1)
    refused = _post(shop, pm, SECRET, after, "old-after")
    assert refused.status == 401
    assert _post(shop, pm, new.secret, after, "new-after").status == 200


def test_outgoing_webhooks_sign_with_the_new_secret_first(shop: Session, now: datetime) -> None:
    new = rotate_secret(shop, merchant_id="shop", overlap_until=now + OVERLAP, now=now)
    assert active_secrets(shop, "shop", now=now) == [new.secret, SECRET]
    assert active_secrets(shop, "shop", now=now + OVERLAP) == [new.secret]


def test_a_rotation_is_audited_and_never_records_a_secret(shop: Session, now: datetime) -> None:
    new = rotate_secret(shop, merchant_id="shop", overlap_until=now + OVERLAP, now=now)
    rows = shop.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    actions = [(r.action, r.target_id) for r in rows if r.target_type == "webhook_secret"]
    assert actions[-2:] == [("webhook_secret.created", str(new.id)),
                            ("webhook_secret.rotated", str(new.id - 1))]  # fmt: skip
    for row in rows:
        assert SECRET not in json.dumps([row.before, row.after], default=str)
        assert new.secret not in json.dumps([row.before, row.after], default=str)


@pytest.mark.parametrize(
    "until", [timedelta(0), timedelta(seconds=-5), timedelta(days=91)], ids=["now", "past", "far"]
)
def test_an_overlap_outside_the_limits_is_refused_and_changes_nothing(
    shop: Session, now: datetime, until: timedelta
) -> None:
    with pytest.raises(ValidationError) as refused:
        rotate_secret(shop, merchant_id="shop", overlap_until=now + until, now=now)
    assert refused.value.field == "overlap_until"
    shop.rollback()
    assert len(shop.scalars(select(WebhookSecret)).all()) == 1


def test_revoking_during_the_overlap_ends_it_now(shop: Session, now: datetime) -> None:
    rotate_secret(shop, merchant_id="shop", overlap_until=now + OVERLAP, now=now)
    old = shop.scalars(select(WebhookSecret).order_by(WebhookSecret.id)).first()
    revoke_secret(shop, secret_id=old.id, now=now + timedelta(hours=1), merchant_id="shop")
    assert old.revoked_at == now + timedelta(hours=1)
    assert SECRET not in active_secrets(shop, "shop", now=now + timedelta(hours=2))


def test_another_merchants_secret_is_not_found(shop: Session, now: datetime) -> None:
    old = shop.scalars(select(WebhookSecret)).one()
    with pytest.raises(NotFound):
        revoke_secret(shop, secret_id=old.id, now=now, merchant_id="other")


def test_a_form_sent_twice_makes_one_secret(shop: Session, now: datetime) -> None:
    create_secret(shop, merchant_id="shop", now=now, request_key="k1")
    shop.commit()
    with pytest.raises(InvalidOperation) as twice:
        create_secret(shop, merchant_id="shop", now=now, request_key="k1")
    assert twice.value.field == "form"
    shop.rollback()
    assert len(shop.scalars(select(WebhookSecret)).all()) == 2
