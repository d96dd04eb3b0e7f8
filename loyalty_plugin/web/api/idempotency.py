"""Writes through the API: one transaction per request, made idempotent by its header.

A write view runs inside :func:`run_in_transaction`. With an ``Idempotency-Key`` the key is
first claimed in a short transaction of its own (so a concurrent repeat sees it in flight),
then locked again first thing in the work's transaction (so a repeat can tell that it is
still alive, and a request whose key was taken over stops before doing anything), and the
answer is stored in the same transaction as the work, so a request either both changed
points and recorded its answer, or did neither.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import wraps
from typing import Any, Literal

from flask import Response, current_app, request
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from loyalty_plugin.domain.errors import LoyaltyError
from loyalty_plugin.extensions import get_session
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.schemas.body import InvalidJSON, parse_json
from loyalty_plugin.services.idempotency import (
    Claim,
    ClaimLost,
    claim_key,
    complete_key,
    hold_key,
    release_key,
)
from loyalty_plugin.services.transaction import run_in_transaction
from loyalty_plugin.web.api.auth import caller
from loyalty_plugin.web.errors import error_response

HEADER = "Idempotency-Key"
Policy = Literal["required", "optional"] | None


@dataclass(frozen=True, slots=True)
class Lease:
    """The idempotency record this request holds, and the claim time that proves it."""

    record_id: int
    claimed_at: datetime


def unit_of_work(view: Callable[..., Response], *, policy: Policy) -> Callable[..., Response]:
    """Run ``view`` in one committed transaction, honouring ``Idempotency-Key`` per ``policy``.

    ``required``: a request without the header is refused (400). ``optional``: the header
    is honoured when sent. ``None``: it is ignored.
    """

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        session = get_session()
        key = request.headers.get(HEADER) if policy else None
        if key is None and policy == "required":
            return error_response(
                400,
                "idempotency_key_missing",
                f"this request changes points: send an {HEADER} header",
                {HEADER: ["required"]},
            )
        lease = None
        if key is not None:
            early = _claim(session, key)
            if isinstance(early, Response):
                return early
            lease = early
        return _run(session, lease, lambda: view(*args, **kwargs))

    return wrapper


def _run(session: Session, lease: Lease | None, call: Callable[[], Response]) -> Response:
    """Do the work and store its answer; an error's answer is stored after the rollback."""
    try:
        return run_in_transaction(session, lambda s: _remember(s, lease, _work(s, lease, call)))
    except ClaimLost:
        return _in_use()
    except (LoyaltyError, HTTPException) as error:
        response = current_app.make_response(current_app.handle_user_exception(error))
    except Exception:
        if lease is not None:
            run_in_transaction(
                session,
                lambda s: release_key(s, record_id=lease.record_id, claimed_at=lease.claimed_at),
            )
        raise
    if lease is not None:
        run_in_transaction(session, lambda s: _remember(s, lease, response))
    return response


def _work(session: Session, lease: Lease | None, call: Callable[[], Response]) -> Response:
    """Hold the key for the whole transaction (if there is one), then run the view."""
    if lease is not None:
        hold_key(session, record_id=lease.record_id, claimed_at=lease.claimed_at)
    return call()


def _remember(session: Session, lease: Lease | None, response: Response) -> Response:
    """Store the answer, if this request still holds its key (a taken-over key is not ours)."""
    if lease is not None:
        complete_key(
            session,
            record_id=lease.record_id,
            claimed_at=lease.claimed_at,
            status=response.status_code,
            body=response.get_json(silent=True),
            text=response.get_data(as_text=True),
            now=utcnow(),
        )
    return response


def _in_use() -> Response:
    return error_response(
        409,
        "idempotency_key_in_use",
        f"a request with this {HEADER} is still running; retry later",
        {HEADER: ["in use"]},
    )


def _claim(session: Session, key: str) -> Lease | Response:
    """The lease this request now holds, or the answer to give instead of running."""
    if not 1 <= len(key) <= 255 or not key.strip():
        return error_response(
            400, "invalid_idempotency_key", "1 to 255 characters", {HEADER: ["1 to 255 characters"]}
        )
    who = caller()
    outcome = run_in_transaction(
        session,
        lambda s: claim_key(
            s,
            merchant_id=who.merchant_id,
            api_key_id=who.key_id,
            key=key,
            fingerprint=_fingerprint(),
            now=utcnow(),
        ),
    )
    if outcome.claim == Claim.ACQUIRED and outcome.claimed_at is not None:
        return Lease(outcome.record_id, outcome.claimed_at)
    if outcome.claim == Claim.MISMATCH:
        return error_response(
            422,
            "idempotency_key_reused",
            f"this {HEADER} was used for a different request",
            {HEADER: ["used for a different request"]},
        )
    if outcome.claim == Claim.IN_FLIGHT:
        return _in_use()
    text = outcome.text if outcome.text is not None else json.dumps(outcome.body)
    replay = current_app.response_class(text, status=outcome.status, mimetype="application/json")
    replay.headers["Idempotent-Replayed"] = "true"
    return replay


def _fingerprint() -> str:
    """SHA-256 of method, path and body; the body compared as JSON, not as bytes."""
    raw = request.get_data(cache=True)
    try:
        body = json.dumps(parse_json(raw), sort_keys=True, default=str, separators=(",", ":"))
    except InvalidJSON:
        body = raw.hex()
    return hashlib.sha256(f"{request.method} {request.full_path}\n{body}".encode()).hexdigest()
