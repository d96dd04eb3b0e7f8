"""Whole-database checks of the ledger invariants, and rebuilding materialized balances."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sqlalchemy import Row, Select, func, literal, or_, select, update
from sqlalchemy.orm import Session, aliased

from loyalty_plugin.models import Account, Allocation, LedgerEntry, Lot


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken invariant: which check, on which row, and the numbers that disagree."""

    check: str
    subject: str
    detail: str

    def __str__(self) -> str:
        return f"{self.check}: {self.subject}: {self.detail}"


def _entry_sums() -> Select:
    return (
        select(LedgerEntry.account_id, func.sum(LedgerEntry.points).label("total"))
        .group_by(LedgerEntry.account_id)
        .subquery()
    )


def _balance_vs_entries(session: Session) -> Iterator[Violation]:
    sums = _entry_sums()
    total = func.coalesce(sums.c.total, 0)
    rows = session.execute(
        select(Account.id, Account.balance, total)
        .outerjoin(sums, sums.c.account_id == Account.id)
        .where(Account.balance != total)
    )
    for account_id, balance, entries in rows:
        yield Violation(
            "balance = sum of entries",
            f"account {account_id}",
            f"balance {balance}, entries sum to {entries}",
        )


def _balance_vs_lots(session: Session) -> Iterator[Violation]:
    sums = (
        select(Lot.account_id, func.sum(Lot.remaining).label("total"))
        .group_by(Lot.account_id)
        .subquery()
    )
    total = func.coalesce(sums.c.total, 0)
    rows = session.execute(
        select(Account.id, Account.balance, total, Account.debt)
        .outerjoin(sums, sums.c.account_id == Account.id)
        .where(Account.balance != total - Account.debt)
    )
    for account_id, balance, lots, debt in rows:
        yield Violation(
            "balance = sum of lot remainders",
            f"account {account_id}",
            f"balance {balance}, lots hold {lots}, debt {debt}",
        )


def _lots_in_range(session: Session) -> Iterator[Violation]:
    rows = session.execute(
        select(Lot.id, Lot.remaining, Lot.points).where(
            or_(Lot.remaining < 0, Lot.remaining > Lot.points)
        )
    )
    for lot_id, remaining, points in rows:
        yield Violation(
            "0 <= lot remainder <= lot points",
            f"lot {lot_id}",
            f"remaining {remaining} of {points}",
        )


def _lots_vs_allocations(session: Session) -> Iterator[Violation]:
    sums = (
        select(Allocation.lot_id, func.sum(Allocation.points).label("moved"))
        .group_by(Allocation.lot_id)
        .subquery()
    )
    expected = Lot.points + func.coalesce(sums.c.moved, 0)
    rows = session.execute(
        select(Lot.id, Lot.remaining, expected)
        .outerjoin(sums, sums.c.lot_id == Lot.id)
        .where(Lot.remaining != expected)
    )
    for lot_id, remaining, want in rows:
        yield Violation(
            "lot remainder = points + allocations",
            f"lot {lot_id}",
            f"remaining {remaining}, allocations leave {want}",
        )


def _unmoved_entries(session: Session) -> list[Row]:
    """Entries whose points are not all moved through lots: only debt may explain the rest."""
    sums = (
        select(Allocation.entry_id, func.sum(Allocation.points).label("moved"))
        .group_by(Allocation.entry_id)
        .subquery()
    )
    moved = func.coalesce(sums.c.moved, 0)
    created = func.coalesce(Lot.points, 0)
    return list(
        session.execute(
            select(
                LedgerEntry.id,
                LedgerEntry.account_id,
                LedgerEntry.points,
                moved,
                created,
                LedgerEntry.details,
            )
            .outerjoin(sums, sums.c.entry_id == LedgerEntry.id)
            .outerjoin(
                Lot, (Lot.merchant_id == LedgerEntry.merchant_id) & (Lot.entry_id == LedgerEntry.id)
            )
            .where(LedgerEntry.points != moved + created)
        )
    )


def _debt_change(details: object) -> int:
    change = details.get("debt_change", 0) if isinstance(details, dict) else 0
    return change if isinstance(change, int) and not isinstance(change, bool) else 0


def _entries_vs_allocations(session: Session) -> Iterator[Violation]:
    for entry_id, _account, points, by_allocations, by_lot, details in _unmoved_entries(session):
        owed = _debt_change(details)
        if points != by_allocations + by_lot - owed:
            yield Violation(
                "entry points = allocations + lot created",
                f"entry {entry_id}",
                f"entry {points}, allocations {by_allocations}, new lot {by_lot}, debt {owed}",
            )


def _debt_vs_entries(session: Session) -> Iterator[Violation]:
    owed: dict[int, int] = defaultdict(int)
    for _entry, account_id, *_numbers, details in _unmoved_entries(session):
        owed[account_id] += _debt_change(details)
    in_debt = session.execute(select(Account.id, Account.debt).where(Account.debt != 0))
    debts = {account_id: debt for account_id, debt in in_debt}
    for account_id in sorted(owed.keys() | debts.keys()):
        debt, recorded = debts.get(account_id, 0), owed.get(account_id, 0)
        if debt != recorded or debt < 0:
            yield Violation(
                "0 <= debt = sum of entries' debt changes",
                f"account {account_id}",
                f"debt {debt}, entries record {recorded}",
            )


def _last_balance_after(session: Session) -> Iterator[Violation]:
    last = (
        select(LedgerEntry.account_id, func.max(LedgerEntry.id).label("last_id"))
        .group_by(LedgerEntry.account_id)
        .subquery()
    )
    entry = aliased(LedgerEntry)
    rows = session.execute(
        select(Account.id, Account.balance, entry.balance_after)
        .join(last, last.c.account_id == Account.id)
        .join(entry, entry.id == last.c.last_id)
        .where(entry.balance_after != Account.balance)
    )
    for account_id, balance, after in rows:
        yield Violation(
            "balance = last entry's balance after",
            f"account {account_id}",
            f"balance {balance}, last entry says {after}",
        )


#: Every invariant check, in the order ``loyalty ledger verify`` runs them.
CHECKS: tuple[Callable[[Session], Iterator[Violation]], ...] = (
    _balance_vs_entries,
    _balance_vs_lots,
    _lots_in_range,
    _lots_vs_allocations,
    _entries_vs_allocations,
    _debt_vs_entries,
    _last_balance_after,
)


def verify_ledger(
    session: Session, *, progress: Callable[[str], None] | None = None
) -> list[Violation]:
    """Run every check over the whole database; an empty list means the ledger is sound."""
    violations: list[Violation] = []
    for check in CHECKS:
        if progress:
            progress(check.__name__.strip("_").replace("_", " "))
        violations.extend(check(session))
    return violations


def rebuild_balances(session: Session) -> tuple[int, int]:
    """Recompute lot remainders from allocations and balances from entries.

    Returns how many lots and accounts were corrected. The entries are the truth; the
    caller commits.
    """
    moved = (
        select(func.coalesce(func.sum(Allocation.points), 0))
        .where(Allocation.lot_id == Lot.id)
        .scalar_subquery()
    )
    lots = session.execute(
        update(Lot).where(Lot.remaining != Lot.points + moved).values(remaining=Lot.points + moved)
    ).rowcount
    total = (
        select(func.coalesce(func.sum(LedgerEntry.points), literal(0)))
        .where(LedgerEntry.account_id == Account.id)
        .scalar_subquery()
    )
    accounts = session.execute(
        update(Account).where(Account.balance != total).values(balance=total)
    ).rowcount
    return lots, accounts
