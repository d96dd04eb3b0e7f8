"""Domain errors: each names the field at fault and carries a stable code."""

from __future__ import annotations

from decimal import Decimal


class LoyaltyError(Exception):
    """Base of every error the engine raises on purpose."""

    code = "loyalty_error"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        reason: str | None = None,
        facts: dict[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        #: Why, as a stable word a program can act on (``reward_sold_out``); ``None``: only
        #: the ``code`` and the English ``message`` say.
        self.reason = reason
        #: The numbers the message names (``{"limit": 2}``), for a caller's own wording.
        self.facts = facts or {}

    def to_dict(self) -> dict[str, object]:
        """The error as the API's ``{"code", "message", "fields"}`` shape (plus ``reason``
        and ``facts`` where the error has them)."""
        fields = {self.field: [self.message]} if self.field else {}
        body: dict[str, object] = {"code": self.code, "message": self.message, "fields": fields}
        if self.reason:
            body["reason"] = self.reason
        if self.facts:
            body["facts"] = self.facts
        return body


class ValidationError(LoyaltyError):
    """An argument is malformed (wrong type, zero points, float money...)."""

    code = "invalid_input"


class NotFound(LoyaltyError):
    """A referenced merchant, customer, account or entry does not exist."""

    code = "not_found"


class InsufficientPoints(LoyaltyError):
    """A debit asked for more points than the account can give."""

    code = "insufficient_points"

    def __init__(self, *, requested: int, available: int) -> None:
        super().__init__(
            f"requested {requested} points but only {available} are available",
            field="points",
        )
        self.requested = requested
        self.available = available


class InsufficientCredit(LoyaltyError):
    """A hold asked for more store credit than the customer can spend (issue #19)."""

    code = "insufficient_credit"

    def __init__(self, *, requested: Decimal, available: Decimal, currency: str) -> None:
        super().__init__(
            f"requested {requested} {currency} of store credit but only {available} is available",
            field="credit",
            facts={"requested": str(requested), "available": str(available)},
        )
        self.requested = requested
        self.available = available


class IdempotencyConflict(LoyaltyError):
    """An idempotency key was reused for a different request."""

    code = "idempotency_key_reused"

    def __init__(self, key: str) -> None:
        super().__init__(
            f"idempotency key {key!r} was already used for a different request",
            field="idempotency_key",
        )
        self.key = key


class InvalidOperation(LoyaltyError):
    """The request is well formed but not allowed in the current state."""

    code = "invalid_operation"
