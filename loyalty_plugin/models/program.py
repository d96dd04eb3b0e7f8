"""Programs and their immutable versions, exchange rates, event limits and invoice earnings."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Enum,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator, TypeEngine

from loyalty_plugin.domain.programs import ProgramStatus
from loyalty_plugin.models.base import Base, BigId, utcnow


class Rate(TypeDecorator[Decimal]):
    """An exact exchange rate: NUMERIC(24, 12) on the servers, decimal text on SQLite.

    Money's four decimals are too few for rates such as 1 JPY = 0.006137 EUR.
    """

    impl = Numeric(24, 12)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(40))
        return dialect.type_descriptor(Numeric(24, 12, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, Decimal):
            raise TypeError(f"a rate must be Decimal, got {type(value).__name__}")
        return str(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(str(value))


class Program(Base):
    """A merchant's program: its identity and status; what it does lives in its versions."""

    __tablename__ = "programs"
    __table_args__ = (UniqueConstraint("merchant_id", "key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    #: Stable name used by the declarative file, the CLI and the API (``main``, ``vip-2026``).
    key: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[ProgramStatus] = mapped_column(
        Enum(
            ProgramStatus,
            native_enum=False,
            length=16,
            values_callable=lambda e: [k.value for k in e],
        )
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    activated_at: Mapped[datetime | None]
    archived_at: Mapped[datetime | None]

    versions: Mapped[list[ProgramVersion]] = relationship(
        back_populates="program", order_by="ProgramVersion.number"
    )


class ProgramVersion(Base):
    """One immutable version of a program's settings, in force from ``effective_from``.

    Only a draft's single version is ever edited in place (it never earned anything).
    """

    __tablename__ = "program_versions"
    __table_args__ = (
        UniqueConstraint("merchant_id", "program_id", "number"),
        Index("ix_program_versions_in_force", "program_id", "effective_from"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"))
    #: 1, 2, 3... per program.
    number: Mapped[int] = mapped_column(Integer)
    effective_from: Mapped[datetime]
    #: The validated settings: earning base, rules, audience, policies (see docs/programs.md).
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: SHA-256 of the canonical settings: an unchanged import makes no new version.
    settings_hash: Mapped[str] = mapped_column(String(64))
    #: Who made it: ``staff:<name>``, ``api:<key>``, ``cli``.
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    program: Mapped[Program] = relationship(back_populates="versions")


class ExchangeRate(Base):
    """How much of the merchant's currency one unit of ``currency`` is worth, from a date."""

    __tablename__ = "exchange_rates"
    __table_args__ = (UniqueConstraint("merchant_id", "currency", "valid_from"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    currency: Mapped[str] = mapped_column(String(3))
    #: Merchant-currency units per one unit of ``currency``.
    rate: Mapped[Decimal] = mapped_column(Rate())
    valid_from: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RuleClaim(Base):
    """One use of a limited event rule by a customer in a period (a registration, a birthday).

    The unique key makes "at most N per period" safe under concurrent deliveries: slot 1..N
    can each be taken once.
    """

    __tablename__ = "rule_claims"
    __table_args__ = (
        UniqueConstraint(
            "merchant_id",
            "program_id",
            "rule_id",
            "customer_id",
            "period",
            "slot",
            name="uq_rule_claims_slot",
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"))
    #: The rule's ``id`` in the program (stable across versions).
    rule_id: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    #: ``ever``, ``2026``, ``2026-03``, ``2026-W10`` or ``2026-03-05``.
    period: Mapped[str] = mapped_column(String(16))
    slot: Mapped[int] = mapped_column(Integer)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class InvoiceEarning(Base):
    """What one program earned on one invoice, and the payments and refunds seen since.

    The awards are kept exactly as evaluated (``evaluation``), so refunds, later payments
    and cancellations are settled against the version that earned, never a newer one.
    """

    __tablename__ = "invoice_earnings"
    __table_args__ = (
        UniqueConstraint("merchant_id", "invoice_id", "program_id"),
        Index("ix_invoice_earnings_account", "merchant_id", "account_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    #: The host's invoice id.
    invoice_id: Mapped[str] = mapped_column(String(64))
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"))
    program_version_id: Mapped[int] = mapped_column(ForeignKey("program_versions.id"))
    #: Currency of the invoice amounts below.
    currency: Mapped[str] = mapped_column(String(3))
    total: Mapped[Decimal]
    #: Money paid so far that counts for earning.
    paid: Mapped[Decimal]
    #: Money given back by every refund so far.
    refunded: Mapped[Decimal]
    #: Money given back by refunds that named no lines.
    refunded_unassigned: Mapped[Decimal]
    #: Quantity given back per line: ``{"line-id": "2"}``.
    refunded_lines: Mapped[dict[str, str]] = mapped_column(JSON)
    #: Payments and refunds already counted (``payment:<id>``, ``refund:<id>``).
    counted: Mapped[list[str]] = mapped_column(JSON)
    #: The awards, multiplier, rate and line quantities as evaluated.
    evaluation: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: Points credited by the earn entries of this invoice and program.
    earned: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Points taken back by reversals so far.
    reversed: Mapped[int] = mapped_column(BigInteger, default=0)
    #: The currency of the store credit this program gives on the invoice (issue #19),
    #: ``None`` for none; then what it earned and had taken back, in minor units.
    credit_unit: Mapped[str | None] = mapped_column(String(8))
    credit_earned: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    credit_reversed: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    cancelled_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
