"""The customer desk: everything staff see about one customer, in a fixed number of queries.

:func:`customer_page` gathers the profile, enrolment and consents, the balance (available,
pending, held, owed), the open lots with their expiry, the level with its history and
progress, one page of the points log with each earning's breakdown by rule and line (as
stored on the entry), the coupons and the adjustments waiting for approval. The number of
queries does not grow with the customer's entries, lots or coupons: lists are bounded and
read in one query each (``tests/admin/test_desk_services.py`` counts them).

Customers are addressed by our row id (the admin pages' URLs), always with the merchant:
another merchant's customer is :class:`NotFound`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.errors import NotFound, ValidationError
from loyalty_plugin.domain.ledger import EntryKind
from loyalty_plugin.models import (
    Account,
    Adjustment,
    AdjustmentStatus,
    Card,
    Coupon,
    Customer,
    LedgerEntry,
    LevelHistory,
    Lot,
    Merchant,
)
from loyalty_plugin.services.audit import as_actor
from loyalty_plugin.services.cards.holders import cards_of
from loyalty_plugin.services.customers.portal import LABELS, LevelView, level_view
from loyalty_plugin.services.customers.portal_credit import CreditWallet, credit_wallets
from loyalty_plugin.services.customers.statements import Standing, ledger_page, standing
from loyalty_plugin.services.ledger.units import points_only
from loyalty_plugin.services.levels import memberships as levels
from loyalty_plugin.services.spending.settings import merchant_settings

#: Entries on one page of the points log.
LOG_PER_PAGE = 25
#: Open lots shown (soonest to expire first); the rest are counted.
LOTS_SHOWN = 50
#: Coupons shown, newest first.
COUPONS_SHOWN = 50
#: Level history rows shown, newest first.
HISTORY_SHOWN = 20
#: Store credit entries shown per currency on the customer page, newest first.
CREDIT_LINES = 10
#: Where staff read an entry differently from the customer (the portal's :data:`LABELS`).
STAFF_LABELS = {EntryKind.ADJUST: "Adjustment", EntryKind.REVERSE: "Reversal"}


@dataclass(frozen=True, kw_only=True)
class Balance:
    """The customer's points: the balance and what it is made of."""

    balance: int
    available: int
    pending: int
    held: int
    #: Points owed (a reversal found them spent); repaid by the next points earned.
    debt: int
    lifetime_earned: int
    lifetime_redeemed: int
    lifetime_expired: int


@dataclass(frozen=True, kw_only=True)
class OpenLot:
    """Points of one credit still held, and when they expire."""

    id: int
    points: int
    remaining: int
    earned_at: datetime
    available_from: datetime
    expires_at: datetime | None
    level: str | None


@dataclass(frozen=True, kw_only=True)
class BreakdownLine:
    """Points one rule gave on one invoice line (``line`` ``None``: the whole invoice)."""

    rule: str
    kind: str
    line: str | None
    base: str | None
    exact: str | None
    points: int
    note: str | None


@dataclass(frozen=True, kw_only=True)
class LogLine:
    """One ledger entry as staff read it."""

    id: int
    at: datetime
    kind: EntryKind
    label: str
    points: int
    balance_after: int
    reason: str | None
    reference: str | None
    actor: str
    #: The program (name and version) an earning was counted under, and its rules' lines.
    program: str | None
    breakdown: list[BreakdownLine]
    #: For credits: when the lot they created expires.
    expires_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class Log:
    """One page of the points log, newest first."""

    lines: list[LogLine]
    page: int
    pages: int
    total: int


@dataclass(frozen=True, kw_only=True)
class CustomerPage:
    """Everything the customer page shows."""

    merchant: Merchant
    customer: Customer
    account_id: int | None
    balance: Balance
    standing: Standing
    lots: list[OpenLot]
    lots_total: int
    level: LevelView | None
    #: Level keys and names staff may give (the scheme in force), lowest first.
    level_choices: list[tuple[str, str]]
    level_history: list[LevelHistory]
    log: Log
    coupons: list[Coupon]
    pending_adjustments: list[Adjustment]
    #: Adjustments of more points than this wait for approval (``None``: no limit).
    approval_above: int | None
    #: Every loyalty card the customer was given, the one they hold first.
    cards: list[Card]
    #: Store credit per currency, with its latest entries (empty for points only).
    credit: list[CreditWallet]


def get_customer(session: Session, *, merchant_id: str, customer_id: int) -> Customer:
    """The merchant's customer with our row id ``customer_id``, or :class:`NotFound`."""
    customer = session.get(Customer, customer_id)
    if customer is None or customer.merchant_id != merchant_id:
        raise NotFound(f"customer {customer_id} does not exist", field="customer_id")
    return customer


def merchant_timezone(session: Session, merchant_id: str) -> str:
    """The merchant's time zone (dates typed in forms are days there)."""
    merchant = session.get(Merchant, merchant_id)
    if merchant is None:
        raise NotFound(f"merchant {merchant_id!r} does not exist", field="merchant_id")
    return merchant.timezone


def customer_page(
    session: Session, *, merchant_id: str, customer_id: int, now: datetime, log_page: int = 1
) -> CustomerPage:
    """The customer page's data; ``log_page`` (from 1) is clamped to the last page."""
    if log_page < 1:
        raise ValidationError("the page must be 1 or more", field="log_page")
    customer, account = _customer_and_account(session, merchant_id, customer_id)
    position = standing(session, customer, now=now)
    account_id = None if account is None else account.id
    lots, lots_total = _open_lots(session, account_id)
    return CustomerPage(
        merchant=session.get(Merchant, merchant_id),  # type: ignore[arg-type]
        customer=customer,
        account_id=account_id,
        balance=_balance(position, account),
        standing=position,
        lots=lots,
        lots_total=lots_total,
        level=level_view(session, merchant_id, position.level, now=now),
        level_choices=_level_choices(session, merchant_id, now),
        level_history=[]
        if account_id is None
        else levels.history(session, account_id=account_id)[:HISTORY_SHOWN],
        log=points_log(session, account_id=account_id, page=log_page),
        coupons=_coupons(session, account_id),
        pending_adjustments=_pending(session, merchant_id, account_id),
        approval_above=merchant_settings(session, merchant_id).adjustment_approval_above,
        cards=cards_of(session, customer),
        credit=credit_wallets(session, customer, now=now, lines=CREDIT_LINES),
    )


def points_log(
    session: Session, *, account_id: int | None, page: int, per_page: int = LOG_PER_PAGE
) -> Log:
    """Page ``page`` of the account's entries, newest first, each earning explained."""
    if account_id is None:
        return Log(lines=[], page=1, pages=1, total=0)
    total = session.scalar(
        select(func.count()).select_from(LedgerEntry).where(LedgerEntry.account_id == account_id)
    )
    pages = max(1, math.ceil((total or 0) / per_page))
    page = min(page, pages)
    first = session.scalar(
        select(LedgerEntry.id)
        .where(LedgerEntry.account_id == account_id)
        .order_by(LedgerEntry.id.desc())
        .offset((page - 1) * per_page)
        .limit(1)
    )
    rows = (
        []
        if first is None
        else ledger_page(session, account_id=account_id, limit=per_page, before_id=first + 1)
    )
    return Log(lines=[_line(row) for row in rows], page=page, pages=pages, total=total or 0)


# -- internals -----------------------------------------------------------------------------


def _customer_and_account(
    session: Session, merchant_id: str, customer_id: int
) -> tuple[Customer, Account | None]:
    row = session.execute(
        select(Customer, Account)
        .outerjoin(
            Account,
            (Account.customer_id == Customer.id)
            & (Account.merchant_id == Customer.merchant_id)
            & points_only(Account),
        )
        .where(Customer.id == customer_id, Customer.merchant_id == merchant_id)
    ).one_or_none()
    if row is None:
        raise NotFound(f"customer {customer_id} does not exist", field="customer_id")
    return row[0], row[1]


def _balance(position: Standing, account: Account | None) -> Balance:
    return Balance(
        balance=position.balance,
        available=position.available,
        pending=position.pending,
        held=position.held,
        debt=0 if account is None else account.debt,
        lifetime_earned=position.lifetime_earned,
        lifetime_redeemed=position.lifetime_redeemed,
        lifetime_expired=position.lifetime_expired,
    )


def _open_lots(session: Session, account_id: int | None) -> tuple[list[OpenLot], int]:
    """The lots still holding points, soonest to expire first (never-expiring last)."""
    if account_id is None:
        return [], 0
    total = func.count().over().label("total")
    rows = session.execute(
        select(Lot, total)
        .where(Lot.account_id == account_id, Lot.holds_points)
        .order_by(Lot.expires_at.is_(None), Lot.expires_at, Lot.id)
        .limit(LOTS_SHOWN)
    ).all()
    lots = [
        OpenLot(
            id=lot.id,
            points=lot.points,
            remaining=lot.remaining,
            earned_at=lot.earned_at,
            available_from=lot.available_from,
            expires_at=lot.expires_at,
            level=lot.level,
        )
        for lot, _ in rows
    ]
    return lots, rows[0][1] if rows else 0


def _level_choices(session: Session, merchant_id: str, now: datetime) -> list[tuple[str, str]]:
    programs = levels.level_programs(session, at=now, merchant_id=merchant_id)
    if not programs:
        return []
    return [(level.key, level.name) for level in programs[0].scheme.levels]


def _coupons(session: Session, account_id: int | None) -> list[Coupon]:
    if account_id is None:
        return []
    return list(
        session.scalars(
            select(Coupon)
            .where(Coupon.account_id == account_id)
            .order_by(Coupon.id.desc())
            .limit(COUPONS_SHOWN)
        )
    )


def _pending(session: Session, merchant_id: str, account_id: int | None) -> list[Adjustment]:
    if account_id is None:
        return []
    return list(
        session.scalars(
            select(Adjustment)
            .where(
                Adjustment.merchant_id == merchant_id,
                Adjustment.account_id == account_id,
                Adjustment.status == AdjustmentStatus.PENDING,
            )
            .order_by(Adjustment.id.desc())
        )
    )


def _line(row: Any) -> LogLine:
    entry: LedgerEntry = row.entry
    details = entry.details or {}
    created = [lot for lot in row.lots if lot.points > 0 and entry.points > 0]
    return LogLine(
        id=entry.id,
        at=entry.created_at,
        kind=entry.kind,
        label=STAFF_LABELS.get(entry.kind) or LABELS.get(entry.kind, str(entry.kind).title()),
        points=entry.points,
        balance_after=entry.balance_after,
        # "points turned into coupon X" only repeats the reference: say it once.
        reason=None
        if entry.reference_id and entry.reference_id in (entry.reason or "")
        else entry.reason,
        reference=_reference(entry),
        actor=_actor_name(entry.actor),
        program=_program_label(details.get("program")),
        breakdown=[_breakdown_line(item) for item in details.get("breakdown") or []],
        expires_at=created[0].expires_at if created else None,
    )


def _reference(entry: LedgerEntry) -> str | None:
    """``invoice``/``INV-1`` as ``Invoice INV-1``; an adjustment by its number."""
    kind, ref = entry.reference_type, entry.reference_id
    if not kind or not ref:
        return None
    if kind == "adjustment" and ref.startswith("adjustment:"):
        return f"Adjustment #{ref.removeprefix('adjustment:')}"
    return f"{kind.replace('_', ' ').capitalize()} {ref}"


def _actor_name(label: str) -> str:
    """A staff member by name (``staff:12 Ana`` is ``Ana``); anyone else by their label."""
    actor = as_actor(label)
    return actor.name if actor.kind == "staff" else label


def _program_label(program: Any) -> str | None:
    if isinstance(program, dict):
        name = program.get("name") or program.get("key")
        return f"{name}, version {program['version']}" if "version" in program else name
    return program if isinstance(program, str) else None


def _breakdown_line(item: dict[str, Any]) -> BreakdownLine:
    return BreakdownLine(
        rule=str(item.get("rule") or ""),
        kind=str(item.get("kind") or ""),
        line=item.get("line"),
        base=item.get("base"),
        exact=item.get("exact"),
        points=int(item.get("points") or 0),
        note=item.get("note"),
    )
