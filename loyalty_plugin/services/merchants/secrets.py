"""Webhook signing secrets: create, list, revoke, and the active ones of a merchant."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.errors import NotFound, ValidationError
from loyalty_plugin.domain.signatures import new_secret, secret_key
from loyalty_plugin.models import WebhookSecret
from loyalty_plugin.services.ledger.accounts import get_merchant


def create_secret(
    session: Session,
    *,
    merchant_id: str,
    now: datetime,
    label: str | None = None,
    secret: str | None = None,
) -> WebhookSecret:
    """Add an active secret for the merchant (a new random one unless ``secret`` is given)."""
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
    return row


def list_secrets(session: Session, merchant_id: str | None = None) -> list[WebhookSecret]:
    """Every secret (of one merchant if given), newest first, revoked ones included."""
    query = select(WebhookSecret).order_by(WebhookSecret.id.desc())
    if merchant_id is not None:
        query = query.where(WebhookSecret.merchant_id == merchant_id)
    return list(session.scalars(query))


def revoke_secret(session: Session, *, secret_id: int, now: datetime) -> WebhookSecret:
    """Stop accepting and signing with a secret; revoking twice keeps the first date."""
    row = session.get(WebhookSecret, secret_id)
    if row is None:
        raise NotFound(f"secret {secret_id} does not exist", field="secret_id")
    row.revoked_at = row.revoked_at or now
    session.flush()
    return row


def active_secrets(session: Session, merchant_id: str) -> list[str]:
    """The merchant's secrets that verify and sign, newest first."""
    return list(
        session.scalars(
            select(WebhookSecret.secret)
            .where(WebhookSecret.merchant_id == merchant_id, WebhookSecret.revoked_at.is_(None))
            .order_by(WebhookSecret.id.desc())
        )
    )
