"""The points ledger: accounts, lots, append-only entries and their allocations.

Invariants (checked by ``loyalty ledger verify``):

* ``account.balance`` = sum of the account's ``entry.points`` = sum of its ``lot.remaining``
  minus its ``debt`` (points owed, recorded per entry as ``details["debt_change"]``);
* ``0 <= lot.remaining <= lot.points`` and ``lot.remaining`` = ``lot.points`` + the sum of
  the allocations on the lot;
* an entry that did not create a lot moved exactly its points through allocations, less
  the debt it took on (or plus the debt it repaid).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ColumnElement,
    Enum,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    event,
    literal_column,
    text,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from loyalty_plugin.domain.ledger import POINTS, EntryKind
from loyalty_plugin.models.base import Base, BigId, utcnow


class Account(Base):
    """A customer's points (or store credit in one currency) with one merchant; the row
    locked by every balance change."""

    __tablename__ = "accounts"
    __table_args__ = (
        # One account per unit: the points account, and one per currency of store credit.
        UniqueConstraint("merchant_id", "customer_id", "unit"),
        # The accounts owing points: the reports add their debts to the sum of the entries.
        Index(
            "ix_accounts_debt",
            "merchant_id",
            "debt",
            postgresql_where=text("debt > 0"),
            sqlite_where=text("debt > 0"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    #: ``points``, or the ISO 4217 code of store credit: then every amount of the account,
    #: its entries, lots, allocations and debt is in the currency's minor unit (cents).
    unit: Mapped[str] = mapped_column(String(8), default=POINTS, server_default=POINTS)
    #: Materialized sum of the account's entries, for fast reads.
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    lifetime_earned: Mapped[int] = mapped_column(BigInteger, default=0)
    lifetime_redeemed: Mapped[int] = mapped_column(BigInteger, default=0)
    lifetime_expired: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Points owed after a reversal found them spent (``negative_balance`` policy); repaid
    #: first by the next points earned or given back. The balance already counts them.
    debt: Mapped[int] = mapped_column(BigInteger, default=0)
    #: The survivor's account once the customer was merged: its lots moved there, and
    #: every later change to this account is made to that one (``lock_account`` follows it).
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    customer = relationship("Customer")


class LedgerEntry(Base):
    """One change to a balance. Never updated or deleted: a correction is a new entry."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        UniqueConstraint("merchant_id", "idempotency_key"),
        # An account belongs to one merchant: queries naming only the account seek here.
        Index("ix_ledger_entries_account", "account_id", "id"),
        Index("ix_ledger_entries_reference", "merchant_id", "reference_type", "reference_id"),
        # What an entry was already undone by: every refund and reversal asks. Few entries
        # reverse another, so PostgreSQL and SQLite index only those; MariaDB indexes the
        # whole column, as it does every foreign key's.
        Index(
            "ix_ledger_entries_reverses",
            "reverses_entry_id",
            postgresql_where=text("reverses_entry_id IS NOT NULL"),
            sqlite_where=text("reverses_entry_id IS NOT NULL"),
        ),
        # The reports' periods: the dashboard's weeks, the journal's days. Kind, points and
        # account are in the index so the dashboard's sums never read the table itself.
        Index(
            "ix_ledger_entries_created",
            "merchant_id",
            "created_at",
            "kind",
            "points",
            "account_id",
            "unit",
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    #: The account's unit, kept on the entry so that the reports sum one unit from the
    #: index alone (``points``, or a currency: then ``points`` are minor units).
    unit: Mapped[str] = mapped_column(String(8), default=POINTS, server_default=POINTS)
    kind: Mapped[EntryKind] = mapped_column(
        Enum(
            EntryKind, native_enum=False, length=16, values_callable=lambda e: [k.value for k in e]
        )
    )
    #: Signed: positive credits, negative debits.
    points: Mapped[int] = mapped_column(BigInteger)
    #: The account balance right after this entry.
    balance_after: Mapped[int] = mapped_column(BigInteger)
    #: Money the entry stands for (spent on an invoice, value of a redemption), if any.
    amount: Mapped[Decimal | None]
    currency: Mapped[str | None] = mapped_column(String(3))
    #: The host object behind the entry: ``invoice``, ``payment``, ``coupon``, ``adjustment``...
    reference_type: Mapped[str | None] = mapped_column(String(32))
    reference_id: Mapped[str | None] = mapped_column(String(128))
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    #: Fingerprint of the request that wrote the entry, to detect a reused key.
    request_hash: Mapped[str | None] = mapped_column(String(64))
    #: Who did it: ``system``, ``webhook``, ``api:<key>``, ``staff:<name>``.
    actor: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str | None] = mapped_column(String(500))
    #: Rule breakdown and other structured detail, as JSON.
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    reverses_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    allocations: Mapped[list[Allocation]] = relationship(
        back_populates="entry", order_by="Allocation.id"
    )


#: The condition of ``ix_lots_credit_open``: credit lots still holding credit.
CREDIT_OPEN = "remaining > 0 AND unit <> 'points'"


class Lot(Base):
    """The points one credit entry granted, what remains of them, and when they expire."""

    __tablename__ = "lots"
    __table_args__ = (
        CheckConstraint("remaining >= 0 AND remaining <= points", name="remaining_in_range"),
        UniqueConstraint("merchant_id", "entry_id"),
        # Only lots still holding points: an account's spent lots are never read again.
        Index(
            "ix_lots_account_open",
            "account_id",
            "remaining",
            postgresql_where=text("remaining > 0"),
            sqlite_where=text("remaining > 0"),
        ),
        Index("ix_lots_expiry", "expires_at"),
        # The reports' open points (liability, expiring soon, aging), read from the index
        # alone: a merchant's lots still holding points, with what the reports group by.
        Index(
            "ix_lots_merchant_open",
            "merchant_id",
            "expires_at",
            "earned_at",
            "remaining",
            "account_id",
            "unit",
            postgresql_where=text("remaining > 0"),
            sqlite_where=text("remaining > 0"),
        ),
        # The dashboard's outstanding store credit per currency (#19): open credit lots
        # only, so points lots never enter it (MariaDB has no partial index: there it
        # holds every lot, and its range optimizer reads ``unit <> 'points'`` as two ranges).
        Index(
            "ix_lots_credit_open",
            "merchant_id",
            "unit",
            "expires_at",
            "remaining",
            postgresql_where=text(CREDIT_OPEN),
            sqlite_where=text(CREDIT_OPEN),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entries.id"))
    #: The account's unit, as on the entry that created the lot.
    unit: Mapped[str] = mapped_column(String(8), default=POINTS, server_default=POINTS)
    points: Mapped[int] = mapped_column(BigInteger)
    remaining: Mapped[int] = mapped_column(BigInteger)
    earned_at: Mapped[datetime]
    #: Pending points become spendable at this time (a return window).
    available_from: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    #: The membership level the customer held when the points were earned (``None``: no
    #: levels then). Fallback redemption values the points at this level.
    level: Mapped[str | None] = mapped_column(String(64))

    @hybrid_property
    def holds_points(self) -> bool:
        """True while the lot has points left (the partial index's condition)."""
        return self.remaining > 0

    @holds_points.inplace.expression
    @classmethod
    def _holds_points_expression(cls) -> ColumnElement[bool]:
        # A literal 0, not a bound parameter: PostgreSQL matches it to the partial index
        # ``ix_lots_account_open`` even in a generic (prepared) plan.
        return cls.remaining > literal_column("0")


class Allocation(Base):
    """Points an entry took from (negative) or returned to (positive) one lot."""

    __tablename__ = "allocations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entries.id"), index=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"), index=True)
    points: Mapped[int] = mapped_column(BigInteger)

    entry: Mapped[LedgerEntry] = relationship(back_populates="allocations")


@event.listens_for(Session, "before_flush")
def _refuse_ledger_rewrites(session: Session, _context: Any, _instances: Any) -> None:
    """Keep the ledger append-only: entries and allocations are never changed or deleted."""
    for obj in session.deleted:
        if isinstance(obj, LedgerEntry | Allocation):
            raise RuntimeError(f"{type(obj).__name__} rows are append-only; write a reversal")
    for obj in session.dirty:
        if isinstance(obj, LedgerEntry | Allocation) and session.is_modified(
            obj, include_collections=False
        ):
            raise RuntimeError(f"{type(obj).__name__} rows are append-only; write a reversal")
