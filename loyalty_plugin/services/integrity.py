"""Whole-database checks of the ledger invariants, and rebuilding materialized balances."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sqlalchemy import Select, func, literal, or_, select, update
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
        select(Account.id, Account.balance, total)
        .outerjoin(sums, sums.c.account_id == Account.id)
        .where(Account.balance != total)
    )
    for account_id, balance, lots in rows:
        yield Violation(
            "balance = sum of lot remainders",
            f"account {account_id}",
            f"balance {balance}, lots hold {lots}",
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


def _entries_vs_allocations(session: Session) -> Iterator[Violation]:
    sums = (
        select(Allocation.entry_id, func.sum(Allocation.points).label("moved"))
        .group_by(Allocation.entry_id)
        .subquery()
    )
    moved = func.coalesce(sums.c.moved, 0)
    created = func.coalesce(Lot.points, 0)
    rows = session.execute(
        select(LedgerEntry.id, LedgerEntry.points, moved, created)
        .outerjoin(sums, sums.c.entry_id == LedgerEntry.id)
        .outerjoin(Lot, Lot.entry_id == LedgerEntry.id)
        .where(LedgerEntry.points != moved + created)
    )
    for entry_id, points, by_allocations, by_lot in rows:
        yield Violation(
            "entry points = allocations + lot created",
            f"entry {entry_id}",
            f"entry {points}, allocations {by_allocations}, new lot {by_lot}",
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
