"""API keys: hashed secrets a host presents as ``Authorization: Bearer``, with a scope."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from loyalty_plugin.models.base import Base, BigId, utcnow


class ApiScope(enum.StrEnum):
    """What a key may do; each scope includes the ones before it."""

    #: Look at customers, ledgers, quotes, coupons and rewards.
    READ = "read"
    #: Also change points: holds, coupons, adjustments, reward purchases.
    WRITE = "write"
    #: Also change settings, rewards and coupon campaigns.
    ADMIN = "admin"

    def grants(self, needed: ApiScope) -> bool:
        """True if a key with this scope may do what ``needed`` allows."""
        order = list(ApiScope)
        return order.index(self) >= order.index(needed)


class ApiKey(Base):
    """One API key. Only a SHA-256 of the secret is kept; the key itself is shown once."""

    __tablename__ = "api_keys"
    __table_args__ = (
        UniqueConstraint("merchant_id", "prefix"),
        Index("ix_api_keys_lookup", "prefix"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: The merchant the key was made for; a host key also covers its other merchants.
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    #: The public start of the key (``lk_XXXXXXXX``), shown in lists and logs.
    prefix: Mapped[str] = mapped_column(String(16))
    #: SHA-256 (hex) of the whole key; keys are random, so no slow hash is needed.
    secret_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(100))
    scope: Mapped[ApiScope] = mapped_column(
        Enum(ApiScope, native_enum=False, length=16, values_callable=lambda e: [k.value for k in e])
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Updated at most once a minute, so busy keys do not contend on their row.
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    grants: Mapped[list[ApiKeyMerchant]] = relationship(
        back_populates="api_key", order_by="ApiKeyMerchant.merchant_id", lazy="selectin"
    )

    @property
    def merchant_ids(self) -> list[str]:
        """Every merchant the key may act for, its own first."""
        others = [g.merchant_id for g in self.grants if g.merchant_id != self.merchant_id]
        return [self.merchant_id, *others]


class ApiKeyMerchant(Base):
    """A further merchant a host key may act for (a marketplace host's sellers)."""

    __tablename__ = "api_key_merchants"
    __table_args__ = (UniqueConstraint("merchant_id", "api_key_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"), index=True)

    api_key: Mapped[ApiKey] = relationship(back_populates="grants")
