"""API keys: made once and shown once, stored as a hash, checked on every request."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.errors import InvalidOperation, NotFound, ValidationError
from loyalty_plugin.models import ApiKey, ApiKeyMerchant, ApiScope
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
) -> tuple[ApiKey, str]:
    """A new key for ``merchant_id`` (and ``also_merchants``, for a host key).

    Returns the row and the key itself, which is not stored and cannot be shown again.
    """
    get_merchant(session, merchant_id)
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


def revoke_api_key(session: Session, *, prefix: str, now: datetime) -> ApiKey:
    """Revoke the key starting with ``prefix``; it fails from the next request on."""
    keys = session.scalars(select(ApiKey).where(ApiKey.prefix == prefix)).all()
    if not keys:
        raise NotFound(f"no API key {prefix!r}", field="prefix")
    if len(keys) > 1:
        raise InvalidOperation(f"{prefix!r} names several keys", field="prefix")
    key = keys[0]
    if key.revoked_at is None:
        key.revoked_at = now
        session.flush()
    return key


def list_api_keys(session: Session, *, merchant_id: str | None = None) -> list[ApiKey]:
    """Every key (of one merchant, if given), oldest first; secrets are never listed."""
    query = select(ApiKey).order_by(ApiKey.id)
    if merchant_id is not None:
        query = query.where(ApiKey.merchant_id == merchant_id)
    return list(session.scalars(query))


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
