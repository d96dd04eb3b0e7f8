"""Writes through the API: one transaction per request, made idempotent by its header.

A write view runs inside :func:`run_in_transaction`. With an ``Idempotency-Key`` the key is
first claimed in a short transaction of its own (so a concurrent repeat sees it in flight),
and the answer is stored in the same transaction as the work, so a request either both
changed points and recorded its answer, or did neither.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from decimal import Decimal
from functools import wraps
from typing import Any, Literal

from flask import Response, current_app, request
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from loyalty_plugin.domain.errors import LoyaltyError
from loyalty_plugin.extensions import get_session
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.idempotency import (
    Claim,
    claim_key,
    complete_key,
    release_key,
)
from loyalty_plugin.services.transaction import run_in_transaction
from loyalty_plugin.web.api.auth import caller
from loyalty_plugin.web.errors import error_response

HEADER = "Idempotency-Key"
Policy = Literal["required", "optional"] | None


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
        record_id = None
        if key is not None:
            early = _claim(session, key)
            if isinstance(early, Response):
                return early
            record_id = early
        return _run(session, record_id, lambda: view(*args, **kwargs))

    return wrapper


def _run(session: Session, record_id: int | None, call: Callable[[], Response]) -> Response:
    """Do the work and store its answer; an error's answer is stored after the rollback."""
    try:
        return run_in_transaction(session, lambda s: _remember(s, record_id, call()))
    except (LoyaltyError, HTTPException) as error:
        response = current_app.make_response(current_app.handle_user_exception(error))
    except Exception:
        if record_id is not None:
            run_in_transaction(session, lambda s: release_key(s, record_id=record_id))
        raise
    if record_id is not None:
        run_in_transaction(session, lambda s: _remember(s, record_id, response))
    return response


def _remember(session: Session, record_id: int | None, response: Response) -> Response:
    if record_id is not None:
        complete_key(
            session,
            record_id=record_id,
            status=response.status_code,
            body=response.get_json(silent=True),
            now=utcnow(),
        )
    return response


def _claim(session: Session, key: str) -> int | Response:
    """The record id this request now holds, or the answer to give instead of running."""
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
    if outcome.claim == Claim.ACQUIRED:
        return outcome.record_id
    if outcome.claim == Claim.MISMATCH:
        return error_response(
            422,
            "idempotency_key_reused",
            f"this {HEADER} was used for a different request",
            {HEADER: ["used for a different request"]},
        )
    if outcome.claim == Claim.IN_FLIGHT:
        return error_response(
            409,
            "idempotency_key_in_use",
            f"a request with this {HEADER} is still running; retry later",
            {HEADER: ["in use"]},
        )
    replay = current_app.response_class(
        json.dumps(outcome.body), status=outcome.status, mimetype="application/json"
    )
    replay.headers["Idempotent-Replayed"] = "true"
    return replay


def _fingerprint() -> str:
    """SHA-256 of method, path and body; the body compared as JSON, not as bytes."""
    raw = request.get_data(cache=True)
    try:
        body = json.dumps(
            json.loads(raw, parse_float=Decimal), sort_keys=True, default=str, separators=(",", ":")
        )
    except ValueError:
        body = raw.hex()
    return hashlib.sha256(f"{request.method} {request.full_path}\n{body}".encode()).hexdigest()
