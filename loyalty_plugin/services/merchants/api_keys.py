"""API keys: made once and shown once, stored as a hash, checked on every request."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.errors import InvalidOperation, NotFound, ValidationError
from loyalty_plugin.models import ApiKey, ApiKeyMerchant, ApiScope
from loyalty_plugin.services.audit import SYSTEM, Actor, record_change
from loyalty_plugin.services.idempotency import claim_fact
from loyalty_plugin.services.ledger.accounts import get_merchant

#: Every key starts with this, so it is recognisable in logs and secret scanners.
KEY_PREFIX = "lk_"
_PREFIX_ALPHABET = string.ascii_lowercase + string.digits
_PREFIX_LENGTH = 8
#: ``last_used_at`` is written at most this often per key.
TOUCH_EVERY = timedelta(minutes=1)


def create_api_key(
    session: Session,
    *,
    merchant_id: str,
    scope: ApiScope | str,
    name: str,
    now: datetime,
    also_merchants: Sequence[str] = (),
    actor: Actor = SYSTEM,
    request_key: str | None = None,
) -> tuple[ApiKey, str]:
    """A new key for ``merchant_id`` (and ``also_merchants``, for a host key).

    Returns the row and the key itself, which is not stored and cannot be shown again.
    ``request_key`` (a form's one-time key) refuses a second submit of the same form.
    Audited as ``api_key.created`` (the prefix, never the secret).
    """
    get_merchant(session, merchant_id)
    if request_key and claim_fact(
        session, merchant_id=merchant_id, key=f"form:{request_key}"[:160], event_id=None
    ):
        raise InvalidOperation(
            "this form was sent already: nothing was changed the second time", field="form"
        )
    for other in also_merchants:
        get_merchant(session, other)
    try:
        scope = ApiScope(scope)
    except ValueError:
        raise ValidationError("scope is read, write or admin", field="scope") from None
    if not name or not name.strip() or len(name) > 100:
        raise ValidationError("a name of 1-100 characters is required", field="name")
    prefix = KEY_PREFIX + "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(_PREFIX_LENGTH))
    token = f"{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(
        merchant_id=merchant_id,
        prefix=prefix,
        secret_hash=_hash(token),
        name=name.strip(),
        scope=scope,
        created_at=now,
    )
    key.grants = [
        ApiKeyMerchant(merchant_id=m) for m in dict.fromkeys(also_merchants) if m != merchant_id
    ]
    session.add(key)
    session.flush()
    _record(session, key, actor, "api_key.created", None, now=now)
    return key, token


def authenticate(session: Session, token: str) -> ApiKey | None:
    """The active key ``token`` belongs to, or ``None`` (unknown, malformed or revoked)."""
    prefix = token[: len(KEY_PREFIX) + _PREFIX_LENGTH]
    if not token.startswith(KEY_PREFIX) or token[len(prefix) : len(prefix) + 1] != "_":
        return None
    digest = _hash(token)
    for key in session.scalars(select(ApiKey).where(ApiKey.prefix == prefix)):
        if hmac.compare_digest(key.secret_hash, digest) and key.revoked_at is None:
            return key
    return None


def touch(key: ApiKey, now: datetime) -> bool:
    """Record that ``key`` was used; returns False when it was recorded recently already."""
    if key.last_used_at is not None and now - key.last_used_at < TOUCH_EVERY:
        return False
    key.last_used_at = now
    return True


def revoke_api_key(
    session: Session,
    *,
    prefix: str,
    now: datetime,
    actor: Actor = SYSTEM,
    merchant_id: str | None = None,
) -> ApiKey:
    """Revoke the key starting with ``prefix``; it fails from the next request on.

    With ``merchant_id``, only that merchant's keys are found. Audited as
    ``api_key.revoked`` (revoking again changes and records nothing).
    """
    query = select(ApiKey).where(ApiKey.prefix == prefix)
    if merchant_id is not None:
        query = query.where(ApiKey.merchant_id == merchant_id)
    keys = session.scalars(query).all()
    if not keys:
        raise NotFound(f"no API key {prefix!r}", field="prefix")
    if len(keys) > 1:
        raise InvalidOperation(f"{prefix!r} names several keys", field="prefix")
    key = keys[0]
    if key.revoked_at is None:
        before = key_document(key)
        key.revoked_at = now
        session.flush()
        _record(session, key, actor, "api_key.revoked", before, now=now)
    return key


def list_api_keys(session: Session, *, merchant_id: str | None = None) -> list[ApiKey]:
    """Every key (of one merchant, if given), oldest first; secrets are never listed."""
    query = select(ApiKey).order_by(ApiKey.id)
    if merchant_id is not None:
        query = query.where(ApiKey.merchant_id == merchant_id)
    return list(session.scalars(query))


def key_document(key: ApiKey) -> dict[str, Any]:
    """What the audit trail keeps of a key: never its secret."""
    return {
        "prefix": key.prefix,
        "name": key.name,
        "scope": key.scope,
        "merchants": key.merchant_ids,
        "revoked_at": key.revoked_at,
    }


def _record(
    session: Session,
    key: ApiKey,
    actor: Actor,
    action: str,
    before: dict[str, Any] | None,
    *,
    now: datetime,
) -> None:
    record_change(
        session,
        merchant_id=key.merchant_id,
        actor=actor,
        action=action,
        target_type="api_key",
        target_id=key.prefix,
        before=before,
        after=key_document(key),
        now=now,
    )


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
