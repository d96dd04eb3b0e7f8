"""Coupons, the campaigns that issue them in bulk, and the rewards customers buy with points."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, BigInteger, Boolean, Enum, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from loyalty_plugin.domain.coupons import CouponKind, CouponStatus, CouponValue
from loyalty_plugin.domain.ledger import POINTS
from loyalty_plugin.domain.money import from_minor
from loyalty_plugin.models.base import Base, BigId, utcnow
from loyalty_plugin.models.ledger import Account


def _enum(cls: type) -> Enum:
    return Enum(cls, native_enum=False, length=16, values_callable=lambda e: [k.value for k in e])


class CouponValueColumns:
    """What a coupon (or the coupons a reward or campaign issues) gives."""

    kind: Mapped[CouponKind] = mapped_column(_enum(CouponKind))
    #: For ``amount`` coupons: the amount off and its currency.
    amount: Mapped[Decimal | None]
    currency: Mapped[str | None] = mapped_column(String(3))
    #: For ``percent`` coupons: the percentage off.
    percent: Mapped[Decimal | None]
    #: Products and categories it applies to (for ``product``: the free products).
    product_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    category_ids: Mapped[list[str]] = mapped_column(JSON, default=list)

    @property
    def value(self) -> CouponValue:
        """The value as the domain knows it."""
        return CouponValue(
            kind=self.kind,
            amount=self.amount,
            currency=self.currency,
            percent=self.percent,
            product_ids=tuple(self.product_ids or ()),
            category_ids=tuple(self.category_ids or ()),
        )

    def set_value(self, value: CouponValue) -> None:
        """Copy a domain value onto the row."""
        self.kind = value.kind
        self.amount = value.amount
        self.currency = value.currency
        self.percent = value.percent
        self.product_ids = list(value.product_ids)
        self.category_ids = list(value.category_ids)


class CouponCampaign(CouponValueColumns, Base):
    """Coupons a merchant generated in bulk, without points (a promotion)."""

    __tablename__ = "coupon_campaigns"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    name: Mapped[str] = mapped_column(String(200))
    #: How many coupons the campaign issued.
    count: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[datetime | None]
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Reward(CouponValueColumns, Base):
    """A catalogue item customers buy with points ("a free coffee: 300 points")."""

    __tablename__ = "rewards"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(String(1000))
    points: Mapped[int] = mapped_column(BigInteger)
    #: Rewards left; ``None`` for unlimited. Decremented with a guarded UPDATE.
    stock: Mapped[int | None] = mapped_column(BigInteger)
    #: How many times one customer may buy it; ``None`` for no limit.
    per_customer_limit: Mapped[int | None] = mapped_column(BigInteger)
    #: Days the issued coupon stays valid; ``None`` for no expiry.
    coupon_valid_days: Mapped[int | None] = mapped_column(BigInteger)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: On offer from this moment (included); ``None``: from when it was added.
    active_from: Mapped[datetime | None]
    #: On offer until this moment (excluded); ``None``: until withdrawn.
    active_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def on_offer(self, now: datetime) -> bool:
        """Offered and within its active dates at ``now``: customers may buy it."""
        return (
            self.active
            and (self.active_from is None or self.active_from <= now)
            and (self.active_until is None or now < self.active_until)
        )


class Coupon(CouponValueColumns, Base):
    """One code, usable once: bought with points, issued by a reward, or by a campaign."""

    __tablename__ = "coupons"
    __table_args__ = (
        UniqueConstraint("merchant_id", "code"),
        Index("ix_coupons_expiry", "status", "expires_at"),
        Index("ix_coupons_redeemed_invoice", "merchant_id", "redeemed_invoice_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    code: Mapped[str] = mapped_column(String(40))
    status: Mapped[CouponStatus] = mapped_column(_enum(CouponStatus))
    #: The customer's account it belongs to (``None``: anyone holding the code).
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    #: Points paid for it, and the ``redeem`` ledger entry that took them.
    points: Mapped[int | None] = mapped_column(BigInteger)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("coupon_campaigns.id"), index=True)
    reward_id: Mapped[int | None] = mapped_column(ForeignKey("rewards.id"), index=True)
    expires_at: Mapped[datetime | None]
    redeemed_at: Mapped[datetime | None]
    #: The host invoice it was used on (cancelling that invoice restores the coupon).
    redeemed_invoice_id: Mapped[str | None] = mapped_column(String(128))
    redeemed_by: Mapped[str | None] = mapped_column(String(128))
    #: Set when an expired coupon's points went back to the customer.
    refund_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"))
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    account: Mapped[Account | None] = relationship(lazy="joined")

    @property
    def bought_with_credit(self) -> bool:
        """Whether store credit paid for it (its account is a credit account, issue #19)."""
        return self.account is not None and self.account.unit != POINTS

    @property
    def points_paid(self) -> int | None:
        """The points it cost (``None`` for a coupon bought with credit or given)."""
        return None if self.bought_with_credit else self.points

    @property
    def credit_paid(self) -> dict[str, str] | None:
        """``{"currency", "amount"}`` of store credit it cost, or ``None``."""
        if not self.bought_with_credit or self.account is None:
            return None
        unit = self.account.unit
        return {"currency": unit, "amount": str(from_minor(self.points or 0, unit))}
