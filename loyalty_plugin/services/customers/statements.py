"""What a customer holds with each merchant, and their points log, for the API to show."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.money import from_minor
from loyalty_plugin.models import Account, Allocation, Customer, LedgerEntry, Lot, Merchant
from loyalty_plugin.services.ledger.entries import pending_points, spendable_points
from loyalty_plugin.services.ledger.units import credit_accounts_of, points_only
from loyalty_plugin.services.levels import memberships as levels
from loyalty_plugin.services.spending.redemption import held_points


@dataclass(frozen=True, kw_only=True)
class Standing:
    """A customer's points with one merchant."""

    merchant_id: str
    balance: int
    available: int
    pending: int
    held: int
    lifetime_earned: int
    lifetime_redeemed: int
    lifetime_expired: int
    next_expiry_date: date | None
    next_expiry_points: int
    #: Membership level, next level and what is still needed (``None``: no levels).
    level: dict[str, Any] | None = None
    #: The customer's store credit with the merchant, one per currency (issue #19); filled
    #: by :func:`with_credit` where it is shown (the API), empty for points-only merchants.
    credit: tuple[CreditStanding, ...] = ()


@dataclass(frozen=True, kw_only=True)
class CreditStanding:
    """A customer's store credit in one currency with one merchant, as money."""

    currency: str
    balance: Decimal
    available: Decimal
    pending: Decimal
    lifetime_earned: Decimal
    lifetime_redeemed: Decimal
    #: Credit owed after a refund found it spent (the balance already counts it).
    owed: Decimal


@dataclass(frozen=True, kw_only=True)
class LotTouched:
    """Points an entry moved in one lot, and when that lot expires."""

    lot_id: int
    points: int
    expires_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class Statement:
    """One ledger entry with the lots it touched."""

    entry: LedgerEntry
    lots: list[LotTouched]


def customers_by_host_id(
    session: Session, merchant_ids: Sequence[str], host_customer_id: str
) -> list[Customer]:
    """The customer records with this host id at each of ``merchant_ids``.

    A merged record gives way to its survivor, as the host id names the survivor now.
    """
    found = session.scalars(
        select(Customer)
        .where(
            Customer.merchant_id.in_(merchant_ids),
            Customer.host_customer_id == str(host_customer_id),
        )
        .order_by(Customer.merchant_id)
    )
    return [
        session.get_one(Customer, c.merged_into_id) if c.merged_into_id is not None else c
        for c in found
    ]


def account_of(session: Session, customer: Customer) -> Account | None:
    """The customer's points account with their merchant, if one was ever opened."""
    return session.scalars(
        select(Account).where(
            Account.merchant_id == customer.merchant_id,
            Account.customer_id == customer.id,
            points_only(Account),
        )
    ).one_or_none()


def standing(session: Session, customer: Customer, *, now: datetime) -> Standing:
    """The customer's balance, pending, held, lifetime totals and next expiry."""
    account = account_of(session, customer)
    if account is None:
        return Standing(
            merchant_id=customer.merchant_id,
            **dict.fromkeys(
                (
                    "balance",
                    "available",
                    "pending",
                    "held",
                    "lifetime_earned",
                    "lifetime_redeemed",
                    "lifetime_expired",
                    "next_expiry_points",
                ),
                0,
            ),
            next_expiry_date=None,
            level=levels.summary(
                session, merchant_id=customer.merchant_id, account_id=None, now=now
            ),
        )
    expiry_date, expiry_points = _next_expiry(session, account, now)
    return Standing(
        merchant_id=customer.merchant_id,
        balance=account.balance,
        available=spendable_points(session, account.id, now),
        pending=pending_points(session, account.id, now),
        held=held_points(session, account.id),
        lifetime_earned=account.lifetime_earned,
        lifetime_redeemed=account.lifetime_redeemed,
        lifetime_expired=account.lifetime_expired,
        next_expiry_date=expiry_date,
        next_expiry_points=expiry_points,
        level=levels.summary(
            session, merchant_id=customer.merchant_id, account_id=account.id, now=now
        ),
    )


def with_credit(
    session: Session, found: Standing, customer: Customer, *, now: datetime
) -> Standing:
    """``found`` with the customer's store credit accounts (one query when there are none)."""
    accounts = session.scalars(credit_accounts_of(customer.merchant_id, customer.id)).all()
    return replace(found, credit=tuple(_credit_standing(session, a, now) for a in accounts))


def _credit_standing(session: Session, account: Account, now: datetime) -> CreditStanding:
    unit = account.unit
    return CreditStanding(
        currency=unit,
        balance=from_minor(account.balance, unit),
        available=from_minor(spendable_points(session, account.id, now), unit),
        pending=from_minor(pending_points(session, account.id, now), unit),
        lifetime_earned=from_minor(account.lifetime_earned, unit),
        lifetime_redeemed=from_minor(account.lifetime_redeemed, unit),
        owed=from_minor(account.debt, unit),
    )


def ledger_page(
    session: Session,
    *,
    account_id: int,
    limit: int,
    before_id: int | None = None,
    where: Sequence[ColumnElement[bool]] = (),
) -> list[Statement]:
    """Up to ``limit`` entries newest first (older than ``before_id``), with lots touched.

    ``where`` narrows the entries further (their kinds, a date range).
    """
    query = select(LedgerEntry).where(LedgerEntry.account_id == account_id, *where)
    if before_id is not None:
        query = query.where(LedgerEntry.id < before_id)
    entries = session.scalars(query.order_by(LedgerEntry.id.desc()).limit(limit)).all()
    touched: dict[int, list[LotTouched]] = defaultdict(list)
    ids = [entry.id for entry in entries]
    rows = session.execute(
        select(Allocation.entry_id, Allocation.lot_id, Allocation.points, Lot.expires_at)
        .join(Lot, Lot.id == Allocation.lot_id)
        .where(Allocation.entry_id.in_(ids))
        .order_by(Allocation.id)
    )
    for entry_id, lot_id, points, expires_at in rows:
        touched[entry_id].append(LotTouched(lot_id=lot_id, points=points, expires_at=expires_at))
    # Naming the merchant lets ``uq_lots_merchant_id_entry_id`` find the lots (entry_id
    # alone has no index of its own: a scan of every lot).
    merchant_id = entries[0].merchant_id if entries else None
    created = session.execute(
        select(Lot.entry_id, Lot.id, Lot.points, Lot.expires_at).where(
            Lot.merchant_id == merchant_id, Lot.entry_id.in_(ids)
        )
    )
    for entry_id, lot_id, points, expires_at in created:
        touched[entry_id].append(LotTouched(lot_id=lot_id, points=points, expires_at=expires_at))
    return [Statement(entry=entry, lots=touched[entry.id]) for entry in entries]


def _next_expiry(session: Session, account: Account, now: datetime) -> tuple[date | None, int]:
    """The next day (in the merchant's time zone) points expire, and how many.

    One query over the account's open lots, which ``ix_lots_account_open`` finds (an
    account holds few). Asking the database for ``min(expires_at)`` instead made
    PostgreSQL walk ``ix_lots_expiry`` across every merchant's lots in expiry order.
    """
    lots = session.execute(
        select(Lot.expires_at, Lot.remaining).where(
            Lot.account_id == account.id, Lot.holds_points, Lot.expires_at > now
        )
    ).all()
    if not lots:
        return None, 0
    zone = ZoneInfo(session.get(Merchant, account.merchant_id).timezone)
    day = min(at for at, _ in lots).astimezone(zone).date()
    return day, sum(points for at, points in lots if at.astimezone(zone).date() == day)
