"""Webhook signing secrets: create, list, revoke, and the active ones of a merchant."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.errors import NotFound, ValidationError
from loyalty_plugin.domain.signatures import new_secret, secret_key
from loyalty_plugin.models import WebhookSecret
from loyalty_plugin.services.audit import SYSTEM, Actor, record_change
from loyalty_plugin.services.ledger.accounts import get_merchant


def create_secret(
    session: Session,
    *,
    merchant_id: str,
    now: datetime,
    label: str | None = None,
    secret: str | None = None,
    actor: Actor = SYSTEM,
) -> WebhookSecret:
    """Add an active secret for the merchant (a new random one unless ``secret`` is given).

    Audited as ``webhook_secret.created`` (its id and label, never the secret).
    """
    get_merchant(session, merchant_id)
    if secret is not None:
        try:
            secret_key(secret)
        except ValueError as error:
            raise ValidationError(str(error), field="secret") from None
        if not secret.startswith("whsec_"):
            secret = "whsec_" + secret
    row = WebhookSecret(
        merchant_id=merchant_id, secret=secret or new_secret(), label=label, created_at=now
    )
    session.add(row)
    session.flush()
    _record(session, row, actor, "webhook_secret.created", None, now=now)
    return row


def list_secrets(session: Session, merchant_id: str | None = None) -> list[WebhookSecret]:
    """Every secret (of one merchant if given), newest first, revoked ones included."""
    query = select(WebhookSecret).order_by(WebhookSecret.id.desc())
    if merchant_id is not None:
        query = query.where(WebhookSecret.merchant_id == merchant_id)
    return list(session.scalars(query))


def revoke_secret(
    session: Session, *, secret_id: int, now: datetime, actor: Actor = SYSTEM
) -> WebhookSecret:
    """Stop accepting and signing with a secret; revoking twice keeps the first date.

    Audited as ``webhook_secret.revoked`` (the first time only).
    """
    row = session.get(WebhookSecret, secret_id)
    if row is None:
        raise NotFound(f"secret {secret_id} does not exist", field="secret_id")
    if row.revoked_at is None:
        before = secret_document(row)
        row.revoked_at = now
        session.flush()
        _record(session, row, actor, "webhook_secret.revoked", before, now=now)
    return row


def secret_document(row: WebhookSecret) -> dict[str, Any]:
    """What the audit trail keeps of a secret: never the secret itself."""
    return {"id": row.id, "label": row.label, "revoked_at": row.revoked_at}


def _record(
    session: Session,
    row: WebhookSecret,
    actor: Actor,
    action: str,
    before: dict[str, Any] | None,
    *,
    now: datetime,
) -> None:
    record_change(
        session,
        merchant_id=row.merchant_id,
        actor=actor,
        action=action,
        target_type="webhook_secret",
        target_id=row.id,
        before=before,
        after=secret_document(row),
        now=now,
    )


def active_secrets(session: Session, merchant_id: str) -> list[str]:
    """The merchant's secrets that verify and sign, newest first."""
    return list(
        session.scalars(
            select(WebhookSecret.secret)
            .where(WebhookSecret.merchant_id == merchant_id, WebhookSecret.revoked_at.is_(None))
            .order_by(WebhookSecret.id.desc())
        )
    )
