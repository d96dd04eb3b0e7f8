"""Standard Webhooks signatures agree with the specification's vectors and reference library."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import standardwebhooks

from loyalty_plugin.domain.signatures import (
    SignatureError,
    check_headers,
    new_secret,
    sign,
    signature_headers,
    verify,
)

#: The specification's published vectors (a copy of ``../shared/vectors``, kept in the
#: repository so the suite runs from any clone).
VECTORS = json.loads(
    (Path(__file__).resolve().parents[2] / "data" / "standard-webhooks.json").read_text()
)
FIRST = VECTORS["valid"][0]


def headers_of(vector: dict, signature: str | None = None) -> dict[str, str]:
    return {
        "webhook-id": vector["webhook-id"],
        "webhook-timestamp": vector["webhook-timestamp"],
        "webhook-signature": signature or vector["webhook-signature"],
    }


def at(vector: dict, seconds: int = 0) -> datetime:
    return datetime.fromtimestamp(int(vector["webhook-timestamp"]) + seconds, UTC)


@pytest.mark.parametrize("vector", VECTORS["valid"], ids=lambda v: v["webhook-id"])
def test_published_vectors_sign_and_verify(vector: dict) -> None:
    """Each published vector signs to its published signature and verifies."""
    body = vector["body"].encode()
    signature = sign(
        vector["secret"],
        msg_id=vector["webhook-id"],
        timestamp=int(vector["webhook-timestamp"]),
        body=body,
    )
    assert signature == vector["webhook-signature"]
    assert verify([vector["secret"]], headers=headers_of(vector), body=body, now=at(vector))


@pytest.mark.parametrize("bad", VECTORS["invalid_signatures_for_first_vector"])
def test_published_invalid_signatures_fail(bad: str) -> None:
    """A wrong digest, an empty one, or another version never verifies."""
    with pytest.raises(SignatureError):
        verify(
            [FIRST["secret"]],
            headers=headers_of(FIRST, bad),
            body=FIRST["body"].encode(),
            now=at(FIRST),
        )


def test_multi_signature_header_passes() -> None:
    """One matching v1 signature among several (and other versions) is enough."""
    header = VECTORS["multi_signature_header_that_must_pass_for_first_vector"]
    assert verify(
        [FIRST["secret"]],
        headers=headers_of(FIRST, header),
        body=FIRST["body"].encode(),
        now=at(FIRST),
    )


@pytest.mark.parametrize(
    ("drift", "passes"),
    [(-301, False), (-299, True), (0, True), (299, True), (301, False)],
)
def test_timestamps_more_than_five_minutes_off_fail(drift: int, passes: bool) -> None:
    """The message time may be at most 300 s before or after the receiver's clock."""
    now = at(FIRST, -drift)
    body = FIRST["body"].encode()
    if passes:
        verify([FIRST["secret"]], headers=headers_of(FIRST), body=body, now=now)
    else:
        with pytest.raises(SignatureError, match=r"too old|future"):
            verify([FIRST["secret"]], headers=headers_of(FIRST), body=body, now=now)


def test_any_active_secret_verifies_and_the_matching_one_is_returned() -> None:
    """During a rotation both secrets verify; the one that signed is named."""
    other = new_secret()
    body = FIRST["body"].encode()
    assert (
        verify([other, FIRST["secret"]], headers=headers_of(FIRST), body=body, now=at(FIRST))
        == FIRST["secret"]
    )
    with pytest.raises(SignatureError):
        verify([other], headers=headers_of(FIRST), body=body, now=at(FIRST))


@pytest.mark.parametrize(
    "change",
    [
        {"webhook-id": ""},
        {"webhook-signature": ""},
        {"webhook-timestamp": "1614265330.5"},
        {"webhook-timestamp": "soon"},
        {"webhook-signature": "v1,not*base64"},
        {"webhook-signature": "garbage"},
    ],
)
def test_missing_or_malformed_headers_fail_cleanly(change: dict[str, str]) -> None:
    """Bad headers raise SignatureError, never a decoding error."""
    with pytest.raises(SignatureError):
        verify(
            [FIRST["secret"]],
            headers=headers_of(FIRST) | change,
            body=FIRST["body"].encode(),
            now=at(FIRST),
        )


def test_a_tampered_body_fails() -> None:
    """One changed byte in the body breaks the signature."""
    with pytest.raises(SignatureError):
        verify(
            [FIRST["secret"]],
            headers=headers_of(FIRST),
            body=b'{"test": 2432232315}',
            now=at(FIRST),
        )


def test_reference_library_accepts_our_signatures_and_we_accept_its() -> None:
    """Both ways with the ``standardwebhooks`` package, on a new secret and body."""
    secret = new_secret()
    body = b'{"type": "points.earned", "data": {"points": 12}}'
    now = datetime.now(UTC)
    ours = signature_headers([secret], msg_id="msg_x", timestamp=int(now.timestamp()), body=body)
    assert standardwebhooks.Webhook(secret).verify(body, ours) == json.loads(body)
    theirs = standardwebhooks.Webhook(secret).sign("msg_x", now, body.decode())
    assert (
        verify(
            [secret],
            headers=ours | {"webhook-signature": theirs},
            body=body,
            now=now + timedelta(seconds=1),
        )
        == secret
    )


def test_a_refused_timestamp_says_by_how_much_and_the_limit() -> None:
    """A host with a wrong clock learns how far off it is and what is allowed (#13)."""
    body = FIRST["body"].encode()
    with pytest.raises(SignatureError) as old:
        verify([FIRST["secret"]], headers=headers_of(FIRST), body=body, now=at(FIRST, 3600))
    assert str(old.value) == (
        "webhook-timestamp is too old: 3600 s behind our clock, at most 300 s allowed; "
        "send Unix seconds now and check the host's clock"
    )
    with pytest.raises(SignatureError, match=r"in the future: 3600 s ahead of our clock"):
        verify([FIRST["secret"]], headers=headers_of(FIRST), body=body, now=at(FIRST, -3600))


def test_a_signature_header_without_a_v1_signature_says_its_form() -> None:
    """``webhook-signature: abc`` is malformed, not a signature that did not match (#13)."""
    for header in ("abc", "v1", "v2,abc", "v1,not base64!"):
        with pytest.raises(SignatureError, match=r"webhook-signature has no signature of the form"):
            verify(
                [FIRST["secret"]],
                headers=headers_of(FIRST, header),
                body=FIRST["body"].encode(),
                now=at(FIRST),
            )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"webhook-id": ""}, "webhook-id"),
        ({"webhook-id": "x" * 300}, "webhook-id"),
        ({"webhook-timestamp": ""}, "webhook-timestamp"),
        ({"webhook-timestamp": "soon"}, "webhook-timestamp"),
        ({"webhook-timestamp": "1"}, "webhook-timestamp"),
        ({"webhook-signature": "garbage"}, "webhook-signature"),
    ],
)
def test_a_header_error_names_the_header_at_fault(change: dict[str, str], field: str) -> None:
    """SignatureError.field is the header at fault, whatever its message says."""
    with pytest.raises(SignatureError) as caught:
        check_headers(headers_of(FIRST) | change, at(FIRST))
    assert caught.value.field == field
