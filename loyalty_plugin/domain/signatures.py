"""Standard Webhooks signatures: sign and verify ``{id}.{timestamp}.{body}`` with HMAC-SHA256.

A small verifier of our own rather than the ``standardwebhooks`` package, for three reasons:
it checks several secrets at once (a host rotating its secret), it takes the clock as an
argument (so the specification's vectors can be checked at their own time), and a malformed
signature entry is refused instead of raising a decoding error. The tests prove it agrees
with the published vectors and with the reference package both ways.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping
from datetime import datetime

#: Prefix of every signing secret.
SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
#: A timestamp further than this from now is refused (replays, wrong clocks).
TOLERANCE_SECONDS = 300
#: Longest ``webhook-id`` accepted (the inbox stores it).
MAX_ID_LENGTH = 255


class SignatureError(Exception):
    """The delivery is not signed by a secret we know, or its headers are unusable."""

    def __init__(self, message: str, *, field: str = "webhook-signature") -> None:
        super().__init__(message)
        #: The header at fault.
        self.field = field


def new_secret() -> str:
    """A fresh signing secret: ``whsec_`` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_`` secret (the prefix is optional)."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except binascii.Error:
        raise ValueError("a signing secret is 'whsec_' followed by base64") from None
    if not key:
        raise ValueError("a signing secret must not be empty")
    return key


def sign(secret: str, *, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value (``v1,<base64>``) of one message."""
    return "v1," + base64.b64encode(_digest(secret_key(secret), msg_id, timestamp, body)).decode()


def signature_headers(
    secrets_: Iterable[str], *, msg_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The three headers of a message signed with every secret given (space-separated)."""
    signatures = " ".join(sign(s, msg_id=msg_id, timestamp=timestamp, body=body) for s in secrets_)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signatures,
    }


def verify(
    secrets_: Iterable[str], *, headers: Mapping[str, str], body: bytes, now: datetime
) -> str:
    """Return the secret that signed ``body``, or raise :class:`SignatureError`.

    ``headers`` must have lower-case names. Every ``v1`` signature in the header is compared,
    in constant time, with the digest under every secret; other versions are ignored.
    """
    msg_id, timestamp = check_headers(headers, now)
    offered = _offered_signatures(headers["webhook-signature"])
    matched = None
    for secret in secrets_:
        expected = _digest(secret_key(secret), msg_id, timestamp, body)
        for signature in offered:
            if hmac.compare_digest(expected, signature):
                matched = matched or secret
    if matched is None:
        raise SignatureError("no signature matches an active secret")
    return matched


def _digest(key: bytes, msg_id: str, timestamp: int, body: bytes) -> bytes:
    return hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()


def check_headers(headers: Mapping[str, str], now: datetime) -> tuple[str, int]:
    """The ``webhook-id`` and timestamp, if all three headers are usable and the timestamp
    is recent; raises :class:`SignatureError` naming the header at fault."""
    missing = [
        name
        for name in ("webhook-id", "webhook-timestamp", "webhook-signature")
        if not headers.get(name)
    ]
    if missing:
        raise SignatureError(f"missing header {missing[0]}", field=missing[0])
    msg_id = headers["webhook-id"]
    if len(msg_id) > MAX_ID_LENGTH or not msg_id.isprintable():
        raise SignatureError(
            f"webhook-id must be 1 to {MAX_ID_LENGTH} printable characters", field="webhook-id"
        )
    if not msg_id.isascii():
        # HTTP headers arrive as Latin-1: a UTF-8 id would never match its signature.
        raise SignatureError(
            "webhook-id must be ASCII (letters, digits, '_', '-', ...)", field="webhook-id"
        )
    raw = headers["webhook-timestamp"].strip()
    if not raw.isascii() or not raw.isdigit() or len(raw) > 12:
        raise SignatureError(
            "webhook-timestamp must be whole Unix seconds", field="webhook-timestamp"
        )
    timestamp = int(raw)
    drift = timestamp - now.timestamp()
    if abs(drift) > TOLERANCE_SECONDS:
        off = "too old" if drift < 0 else "in the future"
        side = "behind" if drift < 0 else "ahead of"
        raise SignatureError(
            f"webhook-timestamp is {off}: {abs(int(drift))} s {side} our clock, at most "
            f"{TOLERANCE_SECONDS} s allowed; send Unix seconds now and check the host's clock",
            field="webhook-timestamp",
        )
    if not _offered_signatures(headers["webhook-signature"]):
        raise SignatureError(
            "webhook-signature has no signature of the form 'v1,<base64 of the HMAC-SHA256>'"
        )
    return msg_id, timestamp


def _offered_signatures(header: str) -> list[bytes]:
    offered = []
    for entry in header.split():
        version, _, encoded = entry.partition(",")
        if version != "v1" or not encoded:
            continue
        try:
            offered.append(base64.b64decode(encoded, validate=True))
        except binascii.Error:
            continue
    return offered
