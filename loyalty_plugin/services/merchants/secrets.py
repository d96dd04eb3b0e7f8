"""Webhook signing secrets: create, rotate, list, revoke, and the active ones of a merchant.

A secret's ``revoked_at`` may lie in the future: a rotated secret keeps verifying (and
signing, after the new one) until then, so the host can switch over without losing events.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cachetools import LRUCache
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from loyalty_plugin.domain.errors import InvalidOperation, NotFound, ValidationError
from loyalty_plugin.domain.signatures import new_secret, secret_key
from loyalty_plugin.models import Merchant, WebhookSecret
from loyalty_plugin.services.audit import SYSTEM, Actor, record_change
from loyalty_plugin.services.idempotency import claim_fact
from loyalty_plugin.services.ledger.accounts import get_merchant
from loyalty_plugin.services.settings_cache import database_key, note_stamp


def create_secret(
    session: Session,
    *,
    merchant_id: str,
    now: datetime,
    label: str | None = None,
    secret: str | None = None,
    actor: Actor = SYSTEM,
    request_key: str | None = None,
) -> WebhookSecret:
    """Add an active secret for the merchant (a new random one unless ``secret`` is given).

    ``request_key`` (a form's one-time key) makes a second submit of the same form fail
    instead of making a second secret. Audited as ``webhook_secret.created`` (its id and
    label, never the secret).
    """
    get_merchant(session, merchant_id)
    _claim_once(session, merchant_id, request_key)
    if label is not None and len(label) > 100:
        raise ValidationError("at most 100 characters", field="label")
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


#: The longest overlap a rotation may leave the old secret working.
MAX_OVERLAP = timedelta(days=90)


def rotate_secret(
    session: Session,
    *,
    merchant_id: str,
    overlap_until: datetime,
    now: datetime,
    label: str | None = None,
    actor: Actor = SYSTEM,
    request_key: str | None = None,
) -> WebhookSecret:
    """A new secret; the merchant's active ones keep working until ``overlap_until`` only.

    Both the old and the new secret verify incoming events (and sign outgoing ones) until
    then; after it the old ones are refused. ``overlap_until`` must lie after ``now`` and at
    most :data:`MAX_OVERLAP` ahead (revoke the old secret at once instead). Audited as
    ``webhook_secret.created`` for the new one and ``webhook_secret.rotated`` for each old one.
    """
    if overlap_until <= now:
        raise ValidationError("the overlap must end in the future", field="overlap_until")
    if overlap_until > now + MAX_OVERLAP:
        raise ValidationError(
            f"the overlap may last {MAX_OVERLAP.days} days at most", field="overlap_until"
        )
    old = list(session.scalars(_active(merchant_id, now).with_for_update()))
    new = create_secret(
        session,
        merchant_id=merchant_id,
        now=now,
        label=label,
        actor=actor,
        request_key=request_key,
    )
    for row in old:
        if row.revoked_at is None or row.revoked_at > overlap_until:
            before = secret_document(row)
            row.revoked_at = overlap_until
            session.flush()
            _record(session, row, actor, "webhook_secret.rotated", before, now=now)
    return new


def list_secrets(session: Session, merchant_id: str | None = None) -> list[WebhookSecret]:
    """Every secret (of one merchant if given), newest first, revoked ones included."""
    query = select(WebhookSecret).order_by(WebhookSecret.id.desc())
    if merchant_id is not None:
        query = query.where(WebhookSecret.merchant_id == merchant_id)
    return list(session.scalars(query))


def revoke_secret(
    session: Session,
    *,
    secret_id: int,
    now: datetime,
    actor: Actor = SYSTEM,
    merchant_id: str | None = None,
) -> WebhookSecret:
    """Stop accepting and signing with a secret now; revoking twice keeps the first date.

    A secret still in a rotation's overlap is revoked now. With ``merchant_id``, another
    merchant's secret is not found. Audited as ``webhook_secret.revoked`` (once).
    """
    row = session.get(WebhookSecret, secret_id)
    if row is None or (merchant_id is not None and row.merchant_id != merchant_id):
        raise NotFound(f"secret {secret_id} does not exist", field="secret_id")
    if row.revoked_at is None or row.revoked_at > now:
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


def active_secrets(session: Session, merchant_id: str, *, now: datetime) -> list[str]:
    """The merchant's secrets that verify and sign at ``now``, newest first."""
    return [row.secret for row in session.scalars(_active(merchant_id, now))]


def merchant_with_secrets(
    session: Session, merchant_id: str, *, now: datetime
) -> tuple[Merchant | None, list[str]]:
    """The merchant (``None`` if unknown) and its :func:`active_secrets`, in one statement
    (the webhook intake needs both for every delivery).

    The merchant's settings stamp comes with the row, as columns (an instance already in
    the identity map would keep its old attributes): the transaction's settings lookups
    are then answered by :mod:`~loyalty_plugin.services.settings_cache`. The secrets are
    kept at that stamp too, for :func:`known_keys`."""
    active = and_(
        WebhookSecret.merchant_id == Merchant.id,
        or_(WebhookSecret.revoked_at.is_(None), WebhookSecret.revoked_at > now),
    )
    rows = session.execute(
        select(
            Merchant,
            Merchant.settings_token,
            Merchant.settings_version,
            WebhookSecret.secret,
            WebhookSecret.revoked_at,
        )
        .outerjoin(WebhookSecret, active)
        .where(Merchant.id == merchant_id)
        .order_by(WebhookSecret.id.desc())
    ).all()
    if not rows:
        return None, []
    merchant, token, version, _secret, _revoked = rows[0]
    note_stamp(session, merchant_id, token=token, version=version)
    kept = tuple((row.secret, row.revoked_at) for row in rows if row.secret is not None)
    if token:
        with _KEYS_LOCK:
            _KEYS[(database_key(session), merchant_id)] = SigningKeys(token, version, kept)
    return merchant, [secret for secret, _revoked in kept]


@dataclass(frozen=True, slots=True)
class SigningKeys:
    """A merchant's signing secrets as read at its settings stamp (issue 20).

    Creating or revoking a secret raises the merchant's ``settings_version``
    (:data:`~loyalty_plugin.services.settings_cache.CACHED_MODELS`), so whoever trusts
    these keys checks the stamp in the statement that acts on them: the high-load intake
    inserts the delivery only if the merchant's row still shows ``token`` and ``version``.
    """

    token: str
    version: int
    #: (secret, revoked_at) of every secret not revoked when read, newest first.
    secrets: tuple[tuple[str, datetime | None], ...]

    def active(self, now: datetime) -> list[str]:
        """The secrets that verify at ``now`` (a rotated one until its ``revoked_at``)."""
        return [secret for secret, revoked in self.secrets if revoked is None or revoked > now]


def known_keys(session: Session, merchant_id: str) -> SigningKeys | None:
    """The merchant's keys last read by :func:`merchant_with_secrets` in this process, if
    any; they may be stale, so check their stamp where they are used."""
    with _KEYS_LOCK:
        return _KEYS.get((database_key(session), merchant_id))


def forget_keys(session: Session, merchant_id: str) -> None:
    """Drop the merchant's kept keys (their stamp was found stale)."""
    with _KEYS_LOCK:
        _KEYS.pop((database_key(session), merchant_id), None)


#: (database, merchant) -> :class:`SigningKeys`, least recently used out (under _KEYS_LOCK).
_KEYS: LRUCache[tuple[str, str], SigningKeys] = LRUCache(maxsize=4096)
_KEYS_LOCK = threading.Lock()


def _active(merchant_id: str, now: datetime) -> Select[tuple[WebhookSecret]]:
    return (
        select(WebhookSecret)
        .where(
            WebhookSecret.merchant_id == merchant_id,
            or_(WebhookSecret.revoked_at.is_(None), WebhookSecret.revoked_at > now),
        )
        .order_by(WebhookSecret.id.desc())
    )


def _claim_once(session: Session, merchant_id: str, request_key: str | None) -> None:
    """Refuse a form sent twice (its one-time key was used already)."""
    if request_key and claim_fact(
        session, merchant_id=merchant_id, key=f"form:{request_key}"[:160], event_id=None
    ):
        raise InvalidOperation(
            "this form was sent already: nothing was changed the second time", field="form"
        )
