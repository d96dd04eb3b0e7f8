"""``Authorization: Bearer <key>``: who is calling, for which merchants, with what scope."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from flask import Response, g, request

from loyalty_plugin.domain.errors import NotFound, ValidationError
from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import ApiScope
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.audit import Actor
from loyalty_plugin.services.merchants.api_keys import authenticate, touch
from loyalty_plugin.web.errors import error_response


@dataclass(frozen=True, slots=True)
class Caller:
    """The API key behind the current request, as plain data."""

    key_id: int
    prefix: str
    #: The key's own merchant (idempotency keys are recorded under it).
    merchant_id: str
    merchant_ids: tuple[str, ...]
    scope: ApiScope

    @property
    def actor(self) -> Actor:
        """The caller as the audit trail names it (the key's prefix)."""
        return Actor.api_key(self.prefix)

    @property
    def label(self) -> str:
        """How ledger entries and rows name this caller (``api:<prefix>``)."""
        return self.actor.label

    def merchant(self, requested: str | None) -> str:
        """The merchant a request acts for: the one named, or the key's only one."""
        if requested is None:
            if len(self.merchant_ids) > 1:
                raise ValidationError(
                    "this key covers several merchants; name one", field="merchant_id"
                )
            return self.merchant_id
        if requested not in self.merchant_ids:
            # The same answer as an unknown merchant: a key learns nothing of other tenants.
            raise NotFound(
                f"merchant {requested!r} is not one this API key acts for", field="merchant_id"
            )
        return requested


def caller() -> Caller:
    """The authenticated caller of the current request."""
    return g.loyalty_caller


def requires(scope: ApiScope) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Let the view run only for a valid, unrevoked key whose scope includes ``scope``."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            refusal = _authenticate(scope)
            return refusal if refusal is not None else view(*args, **kwargs)

        return guarded

    return decorate


def _authenticate(scope: ApiScope) -> Response | None:
    header = request.headers.get("Authorization", "")
    kind, _, token = header.partition(" ")
    if kind.lower() != "bearer" or not token.strip():
        return _unauthorized("send an API key as 'Authorization: Bearer <key>'")
    session = get_session()
    key = authenticate(session, token.strip())
    if key is None:
        session.rollback()
        return _unauthorized("the API key is unknown or revoked")
    g.loyalty_caller = Caller(
        key_id=key.id,
        prefix=key.prefix,
        merchant_id=key.merchant_id,
        merchant_ids=tuple(key.merchant_ids),
        scope=key.scope,
    )
    if touch(key, utcnow()):
        session.commit()
    else:
        session.rollback()
    if not key.scope.grants(scope):
        return error_response(
            403,
            "insufficient_scope",
            f"this needs a key with the {scope} scope; this key has {key.scope}",
        )
    return None


def _unauthorized(message: str) -> Response:
    response = error_response(401, "unauthorized", message)
    response.headers["WWW-Authenticate"] = 'Bearer realm="loyalty"'
    return response
