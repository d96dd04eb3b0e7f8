"""What happened, as frozen dataclasses: the payload of notification hooks and webhooks out.

New fields can be added without changing any hook signature (hooks receive one event).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, ClassVar


@dataclass(frozen=True, kw_only=True)
class DomainEvent:
    """Base of every event: which merchant, when, and the outgoing webhook type."""

    #: The outgoing webhook ``type`` (``points.earned``...), set by each subclass.
    type: ClassVar[str] = ""
    merchant_id: str
    occurred_at: datetime

    def payload(self) -> dict[str, Any]:
        """The event as JSON-ready data (the ``data`` of an outgoing webhook)."""
        return {
            k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in asdict(self).items()
        }


@dataclass(frozen=True, kw_only=True)
class PointsEarned(DomainEvent):
    type: ClassVar[str] = "points.earned"
    customer_id: str
    entry_id: int
    points: int
    balance: int
    reference: str | None = None
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class PointsRedeemed(DomainEvent):
    type: ClassVar[str] = "points.redeemed"
    customer_id: str
    entry_id: int
    points: int
    balance: int
    reference: str | None = None


@dataclass(frozen=True, kw_only=True)
class PointsReversed(DomainEvent):
    type: ClassVar[str] = "points.reversed"
    customer_id: str
    entry_id: int
    points: int
    balance: int
    reverses_entry_id: int
    reference: str | None = None


@dataclass(frozen=True, kw_only=True)
class CreditEarned(DomainEvent):
    """Store credit earned (issue #19): money, as decimal strings in the currency."""

    type: ClassVar[str] = "credit.earned"
    customer_id: str
    entry_id: int
    currency: str
    amount: str
    balance: str
    reference: str | None = None
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class CreditReversed(DomainEvent):
    """Store credit taken back by a refund or a cancellation (issue #19)."""

    type: ClassVar[str] = "credit.reversed"
    customer_id: str
    entry_id: int
    currency: str
    amount: str
    balance: str
    reverses_entry_id: int
    reference: str | None = None


@dataclass(frozen=True, kw_only=True)
class CreditExpiring(DomainEvent):
    """Store credit will expire soon: a reminder went (issue #19)."""

    type: ClassVar[str] = "credit.expiring"
    customer_id: str
    currency: str
    amount: str
    expires_at: datetime


@dataclass(frozen=True, kw_only=True)
class CreditExpired(DomainEvent):
    """Store credit reached its expiry date and was taken by the expiry job (issue #19)."""

    type: ClassVar[str] = "credit.expired"
    customer_id: str
    entry_id: int
    currency: str
    #: What expired, positive, as a decimal string in the currency.
    amount: str
    balance: str


@dataclass(frozen=True, kw_only=True)
class CreditSpent(DomainEvent):
    """Store credit spent: a hold on an invoice was captured, or credit bought a coupon
    (issue #19)."""

    type: ClassVar[str] = "credit.spent"
    customer_id: str
    entry_id: int
    currency: str
    #: Negative: the credit left the customer's account.
    amount: str
    balance: str
    reference: str | None = None
    #: The redemption whose hold was captured (``None``: credit bought a coupon).
    redemption_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class CreditReturned(DomainEvent):
    """Store credit spent on an invoice given back by a refund or its cancellation (#19)."""

    type: ClassVar[str] = "credit.returned"
    customer_id: str
    entry_id: int
    currency: str
    amount: str
    balance: str
    reverses_entry_id: int
    redemption_id: int
    reference: str | None = None


@dataclass(frozen=True, kw_only=True)
class PointsExpiring(DomainEvent):
    type: ClassVar[str] = "points.expiring"
    customer_id: str
    points: int
    expires_at: datetime


@dataclass(frozen=True, kw_only=True)
class PointsExpired(DomainEvent):
    type: ClassVar[str] = "points.expired"
    customer_id: str
    entry_id: int
    points: int
    balance: int


@dataclass(frozen=True, kw_only=True)
class LevelChanged(DomainEvent):
    type: ClassVar[str] = "level.changed"
    customer_id: str
    from_level: str | None
    to_level: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class CouponCreated(DomainEvent):
    type: ClassVar[str] = "coupon.created"
    code: str
    customer_id: str | None = None
    points: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class CouponRedeemed(DomainEvent):
    type: ClassVar[str] = "coupon.redeemed"
    code: str
    customer_id: str | None = None
    reference: str | None = None


@dataclass(frozen=True, kw_only=True)
class CustomerRegistered(DomainEvent):
    type: ClassVar[str] = "customer.registered"
    customer_id: str
