"""The reports' daily totals: rolled up from a watermark, read together with the live tail.

Ledger entries are append-only and their ids only grow. :func:`roll_up` adds the entries
written since a merchant's watermark to its totals per day (in the merchant's time zone),
kind and sign (``report_days``) and moves the watermark (``report_rollups.entry_id``).
Readers sum those days and the entries after the watermark in **one statement**
(:func:`day_totals_and_tail`), so an answer is exact whether the job ran a second ago,
a week ago or never; the job only keeps the tail short.

An id is taken from the sequence before its transaction commits, so an entry with a
smaller id than one already visible may still be on its way. Before rolling up to the
highest visible id, :func:`roll_up` therefore waits until every transaction that was
already running has ended (PostgreSQL: ``pg_stat_activity``; MariaDB:
``information_schema.innodb_trx``; SQLite has one writer at a time and its roll-up holds
the write lock). If they do not end within ``settle_seconds``, nothing is rolled up this
time: the reports stay exact, the tail just stays longer. Ledger writes are untouched:
nothing here is written by an earning or a spend.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    delete,
    func,
    literal,
    or_,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.orm import Session

from loyalty_plugin.domain.ledger import EntryKind
from loyalty_plugin.domain.reports import local_midnight, local_today
from loyalty_plugin.models import (
    Account,
    Allocation,
    Customer,
    LedgerEntry,
    Lot,
    Merchant,
    ReportAccountMonth,
    ReportAccountPoints,
    ReportDay,
    ReportGroupLotDay,
    ReportLotDay,
    ReportRollup,
)
from loyalty_plugin.models.report import NEVER
from loyalty_plugin.services.ledger.units import points_only
from loyalty_plugin.services.reports.calendar import bucket, instant
from loyalty_plugin.services.transaction import run_in_transaction

log = logging.getLogger(__name__)

#: Entry ids one transaction of the roll-up covers.
BATCH = 200_000
#: Most days one statement sorts entries into (the ``CASE`` tree of :func:`bucket`).
MAX_DAYS = 800
#: How long the roll-up waits for transactions older than it to end.
SETTLE_SECONDS = 10.0


@dataclass(frozen=True, kw_only=True)
class RollupRun:
    """What one :func:`roll_up` did: entries added to the totals, up to which id."""

    entries: int
    watermark: int
    #: Older transactions were still running after ``settle_seconds``: nothing was done.
    waited_out: bool = False


def roll_up(
    session: Session,
    *,
    batch: int = BATCH,
    settle_seconds: float = SETTLE_SECONDS,
    merchant_id: str | None = None,
) -> RollupRun:
    """Roll every merchant's (or one merchant's) entries up to the newest settled id."""
    target = run_in_transaction(session, _newest_id)
    if not _settle(session, target[1], timeout=settle_seconds):
        log.warning(
            "roll-up-reports: transactions older than %.0f s still running; "
            "the reports read a longer tail until the next run",
            settle_seconds,
        )
        return RollupRun(entries=0, watermark=target[0], waited_out=True)
    if merchant_id is None:
        merchants = run_in_transaction(
            session, lambda s: list(s.scalars(select(Merchant.id).order_by(Merchant.id)))
        )
    else:
        merchants = [merchant_id]
    added = 0
    for merchant in merchants:
        while run_in_transaction(session, lambda s, m=merchant: _file_empty(s, m)) == FILE_CHUNK:
            pass
        while True:
            count, done = run_in_transaction(
                session, lambda s, m=merchant: _roll_up_batch(s, m, target[0], batch)
            )
            added += count
            if done:
                break
    return RollupRun(entries=added, watermark=target[0])


def _newest_id(session: Session) -> tuple[int, Any]:
    """The highest visible entry id, then the database's clock (read after it)."""
    newest = session.scalar(select(func.max(LedgerEntry.id))) or 0
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        clock = session.scalar(select(func.clock_timestamp()))
    elif dialect in ("mysql", "mariadb"):
        clock = session.scalar(select(func.now()))
    else:
        clock = None  # SQLite: this transaction held the write lock, no writer is in flight
    return int(newest), clock


#: How stale ``information_schema.innodb_trx`` may be, with a margin.
INNODB_TRX_CACHE_SECONDS = 0.15


def _settle(session: Session, clock: Any, *, timeout: float) -> bool:
    """Wait until the transactions running at ``clock`` have ended; False after ``timeout``."""
    if clock is None:
        return True
    if session.get_bind().dialect.name == "mysql":
        # InnoDB serves information_schema.innodb_trx from a snapshot kept up to 100 ms
        # (TRX_I_S_CACHE_MIN_KEEP_TIME): read it only once a snapshot must postdate clock.
        time.sleep(INNODB_TRX_CACHE_SECONDS)
    deadline = time.monotonic() + timeout
    pause = 0.01
    while True:
        older = run_in_transaction(session, lambda s: _older_transactions(s, clock))
        if older == 0:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(pause)
        pause = min(pause * 2, 0.5)


def _older_transactions(session: Session, clock: Any) -> int:
    """Transactions of this database, other than ours, that began before ``clock``."""
    if session.get_bind().dialect.name == "postgresql":
        statement = (
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
            " AND xact_start < :clock"
        )
    else:
        # innodb_trx shows a transaction's start to the second: one that began in the same
        # second is waited for too, which only costs that wait.
        statement = (
            "SELECT count(*) FROM information_schema.innodb_trx t"
            " JOIN information_schema.processlist p ON p.id = t.trx_mysql_thread_id"
            " WHERE t.trx_mysql_thread_id <> CONNECTION_ID() AND p.db = DATABASE()"
            " AND t.trx_started <= :clock"
        )
    return int(session.execute(text(statement), {"clock": clock}).scalar() or 0)


def _roll_up_batch(session: Session, merchant_id: str, target: int, batch: int) -> tuple[int, bool]:
    """Add one batch of the merchant's entries after its watermark; (entries, done)."""
    state = _state(session, merchant_id)
    low = state.entry_id
    if low >= target:
        return 0, True
    first = session.scalar(
        select(func.min(LedgerEntry.id)).where(_after(merchant_id, low), LedgerEntry.id <= target)
    )
    if first is None:
        state.entry_id = target
        return 0, True
    # The ids before the merchant's next entry are other merchants': skipped in one step.
    start = first - 1
    high = min(target, start + batch)
    while True:
        span = session.execute(
            select(func.min(LedgerEntry.created_at), func.max(LedgerEntry.created_at)).where(
                _after(merchant_id, low), LedgerEntry.id <= high
            )
        ).one()  # never empty: the merchant's entry ``first`` is in every span tried
        days = _days(span[0], span[1], state.zone)
        if len(days) <= MAX_DAYS or high - start <= 1:
            break
        high = start + (high - start) // 2  # entries spread over years: a smaller batch
    _file_groups(session, state)  # at the watermark still: before the kept rows move
    added = _add_days(session, state, days, high)
    _add_account_months(session, state, days, high)
    _add_account_points(session, state, high)
    _add_lot_days(session, state, high)
    _add_group_lot_days(session, state, high)
    state.entry_id = high
    return added, high >= target


def _state(session: Session, merchant_id: str) -> ReportRollup:
    """The merchant's watermark, locked; started (or restarted for a new time zone)."""
    zone = session.get(Merchant, merchant_id).timezone or "UTC"  # type: ignore[union-attr]
    state = session.get(ReportRollup, merchant_id, with_for_update=True)
    if state is None:
        state = ReportRollup(merchant_id=merchant_id, zone=zone, entry_id=0)
        session.add(state)
        session.flush()
    elif state.zone != zone:
        # The merchant moved to another time zone: its days start at other instants.
        session.execute(delete(ReportDay).where(ReportDay.merchant_id == merchant_id))
        for table in (ReportAccountMonth, ReportAccountPoints, ReportLotDay, ReportGroupLotDay):
            session.execute(delete(table).where(table.merchant_id == merchant_id))
        state.zone, state.entry_id = zone, 0
    return state


def _after(merchant_id: str, entry_id: Any) -> ColumnElement[bool]:
    # Points only: store credit is money, reported apart (planned, #19 phase 2).
    return and_(
        LedgerEntry.merchant_id == merchant_id, LedgerEntry.id > entry_id, points_only(LedgerEntry)
    )


def _days(first: datetime, last: datetime, zone: str) -> list[date]:
    start, end = local_today(first, zone), local_today(last, zone)
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def _add_days(session: Session, state: ReportRollup, days: list[date], high: int) -> int:
    """Sum the entries after the watermark up to ``high`` per day, kind and sign; store."""
    bounds = [local_midnight(day, state.zone) for day in days]
    bounds.append(local_midnight(days[-1] + timedelta(days=1), state.zone))
    credit = LedgerEntry.points > 0
    rows = session.execute(
        select(
            bucket(LedgerEntry.created_at, bounds).label("day"),
            LedgerEntry.kind,
            credit,
            func.sum(LedgerEntry.points),
            func.count(),
        )
        .where(_after(state.merchant_id, state.entry_id), LedgerEntry.id <= high)
        .group_by("day", LedgerEntry.kind, credit)
    ).all()
    sums: dict[tuple[date, EntryKind, bool], list[int]] = defaultdict(lambda: [0, 0])
    for n, kind, is_credit, points, count in rows:
        key = (days[int(n)], EntryKind(kind), bool(is_credit))
        sums[key][0] += int(points)
        sums[key][1] += int(count)
    stored = {
        (row.day, row.kind, row.credit): row
        for row in session.scalars(
            select(ReportDay).where(
                ReportDay.merchant_id == state.merchant_id,
                ReportDay.day >= days[0],
                ReportDay.day <= days[-1],
            )
        )
    }
    for (day, kind, is_credit), (points, count) in sums.items():
        row = stored.get((day, kind, is_credit))
        if row is None:
            session.add(
                ReportDay(
                    merchant_id=state.merchant_id,
                    day=day,
                    kind=kind,
                    credit=is_credit,
                    points=points,
                    entries=count,
                )
            )
        else:
            row.points += points
            row.entries += count
    return sum(count for _points, count in sums.values())


def _add_account_months(session: Session, state: ReportRollup, days: list[date], high: int) -> None:
    """Sum the points issued after the watermark up to ``high`` per month and account."""
    months = month_firsts(days[0], days[-1])
    bounds = [local_midnight(month, state.zone) for month in months]
    month = bucket(LedgerEntry.created_at, bounds).label("month")
    rows = session.execute(
        select(month, LedgerEntry.account_id, func.sum(LedgerEntry.points))
        .where(_after(state.merchant_id, state.entry_id), LedgerEntry.id <= high, issuing())
        .group_by("month", LedgerEntry.account_id)
    ).all()
    values = [
        {"merchant_id": state.merchant_id, "month": months[int(n)], "account_id": account,
         "issued": int(points)}
        for n, account, points in rows
    ]  # fmt: skip
    for start in range(0, len(values), 1000):
        session.execute(_add_issued(session), values[start : start + 1000])


def _add_issued(session: Session) -> Any:
    """``INSERT`` a month's points, or add them to the row already there."""
    return _upsert_adding(
        session, ReportAccountMonth.__table__, ["merchant_id", "month", "account_id"], "issued"
    )


def _add_account_points(session: Session, state: ReportRollup, high: int) -> None:
    """Add the lots created and the allocations written after the watermark up to ``high``
    to the points left per account (each counted on its entry's account)."""
    rows = session.execute(account_points_after(state.merchant_id, state.entry_id, high)).all()
    values = [
        {"merchant_id": state.merchant_id, "account_id": account, "points": int(points)}
        for account, points in rows
    ]
    statement = _upsert_adding(
        session, ReportAccountPoints.__table__, ["merchant_id", "account_id"], "points"
    )
    for start in range(0, len(values), 1000):
        session.execute(statement, values[start : start + 1000])


def account_points_after(merchant_id: str, low: Any, high: Any = None) -> Select[Any]:
    """Points per account of the lots created and the allocations written by the entries
    after ``low`` (up to ``high``): what they changed in the accounts' lots.

    A lot counts on the account of the entry that created it, an allocation on its
    entry's account, never on the lot's current account: entries are append-only, and a
    merge moves the points with its own two entries' allocations.
    """

    def upto(column: Any) -> ColumnElement[bool]:
        return literal(True) if high is None else column <= high

    lots = (
        select(LedgerEntry.account_id.label("account_id"), Lot.points.label("points"))
        .join(LedgerEntry, LedgerEntry.id == Lot.entry_id)
        .where(
            Lot.merchant_id == merchant_id,
            points_only(Lot),
            Lot.entry_id > low,
            upto(Lot.entry_id),
        )
    )
    moves = (
        select(LedgerEntry.account_id.label("account_id"), Allocation.points.label("points"))
        .join(LedgerEntry, LedgerEntry.id == Allocation.entry_id)
        .where(
            Allocation.merchant_id == merchant_id,
            points_only(LedgerEntry),
            Allocation.entry_id > low,
            upto(Allocation.entry_id),
        )
    )
    both = union_all(lots, moves).subquery("changed")
    return select(both.c.account_id, func.sum(both.c.points).label("points")).group_by(
        both.c.account_id
    )


def _add_lot_days(session: Session, state: ReportRollup, high: int) -> None:
    """Add the lots created and the allocations written after the watermark up to ``high``
    to the points left per earning and expiry day (the lots' own days, in the zone)."""
    sums: dict[tuple[date, date], int] = defaultdict(int)
    for earned_at, expires_at, points in session.execute(
        lot_changes_after(state.merchant_id, state.entry_id, high)
    ):
        sums[lot_days(earned_at, expires_at, state.zone)] += int(points)
    values = [
        {"merchant_id": state.merchant_id, "earned_on": earned, "expires_on": expires,
         "points": points}
        for (earned, expires), points in sums.items()
        if points
    ]  # fmt: skip
    statement = _upsert_adding(
        session, ReportLotDay.__table__, ["merchant_id", "earned_on", "expires_on"], "points"
    )
    for start in range(0, len(values), 1000):
        session.execute(statement, values[start : start + 1000])


def lot_days(earned_at: datetime, expires_at: datetime | None, zone: str) -> tuple[date, date]:
    """A lot's earning day and expiry day in ``zone`` (:data:`NEVER`: it does not expire)."""
    expires = NEVER if expires_at is None else local_today(expires_at, zone)
    return local_today(earned_at, zone), expires


def lot_changes_after(merchant_id: str, low: Any, high: Any = None) -> Select[Any]:
    """``(earned_at, expires_at, points)`` of the lots created and of the allocations
    written by the entries after ``low`` (up to ``high``), one row each."""

    def upto(column: Any) -> ColumnElement[bool]:
        return literal(True) if high is None else column <= high

    lots = select(Lot.earned_at, Lot.expires_at, Lot.points).where(
        Lot.merchant_id == merchant_id, points_only(Lot), Lot.entry_id > low, upto(Lot.entry_id)
    )
    moves = (
        select(Lot.earned_at, Lot.expires_at, Allocation.points)
        .join(Lot, Lot.id == Allocation.lot_id)
        .where(
            Allocation.merchant_id == merchant_id,
            points_only(Lot),
            Allocation.entry_id > low,
            upto(Allocation.entry_id),
        )
    )
    return union_all(lots, moves)


#: Customers filed per statement (and, with nothing kept, per transaction).
FILE_CHUNK = 1000


def _file_empty(session: Session, merchant_id: str) -> int:
    """File up to :data:`FILE_CHUNK` customers whose group changed and who have nothing
    kept under their group now (in a short transaction of its own, before the batches):
    how many.

    A customer none of whose accounts has a kept row (``report_account_points``: one for
    every account an entry up to the watermark changed), a new one most often, has no
    points in ``report_group_lot_days``: whatever group they are filed under, the kept
    figures stay right, so no lock is held for long (the first run after the upgrade
    files every customer this way).
    """
    ids = list(
        session.scalars(
            select(Customer.id)
            .where(Customer.merchant_id == merchant_id, moved_customers(), ~_kept_row())
            .limit(FILE_CHUNK)
        )
    )
    if ids:
        session.execute(
            update(Customer)
            .where(Customer.id.in_(ids))
            .values(report_group=Customer.customer_group, updated_at=Customer.updated_at)
            .execution_options(synchronize_session=False)
        )
    return len(ids)


def _kept_row() -> ColumnElement[bool]:
    """Whether one of the customer's accounts has a kept row."""
    return (
        select(ReportAccountPoints.account_id)
        .join(Account, Account.id == ReportAccountPoints.account_id)
        .where(
            ReportAccountPoints.merchant_id == Customer.merchant_id,
            Account.customer_id == Customer.id,
        )
        .exists()
    )


def _file_groups(session: Session, state: ReportRollup) -> None:
    """File the customers whose group changed and who have points kept under their group
    now, with those points (in the batch's transaction, at its watermark).

    A customer's kept points (``report_group_lot_days``, up to the watermark) are their
    open lots' points less what the entries after the watermark changed (one statement,
    one snapshot); they move from the group filed to the group now. The customers are
    locked by id first, so their group cannot change in between. Those with nothing kept
    are filed by :func:`_file_empty`.
    """
    if not state.entry_id:  # nothing kept yet
        return
    moved = list(
        session.scalars(
            select(Customer.id).where(
                Customer.merchant_id == state.merchant_id, moved_customers(), _kept_row()
            )
        )
    )
    for start in range(0, len(moved), FILE_CHUNK):
        chunk = moved[start : start + FILE_CHUNK]
        locked = list(
            session.scalars(
                select(Customer.id)
                .where(Customer.id.in_(chunk), moved_customers())
                .with_for_update()
            )
        )
        if not locked:
            continue
        sums: dict[tuple[str | None, date, date], int] = defaultdict(int)
        kept = kept_of_customers(state.merchant_id, state.entry_id, Customer.id.in_(locked))
        for now_in, filed_in, earned_at, expires_at, points in session.execute(kept):
            days = lot_days(earned_at, expires_at, state.zone)
            sums[(now_in, *days)] += int(points)
            sums[(filed_in, *days)] -= int(points)
        _store_group_days(session, state, sums)
        session.execute(
            update(Customer)
            .where(Customer.id.in_(locked))
            .values(report_group=Customer.customer_group, updated_at=Customer.updated_at)
            .execution_options(synchronize_session=False)
        )


def _add_group_lot_days(session: Session, state: ReportRollup, high: int) -> None:
    """Add the lots created and the allocations written after the watermark up to ``high``
    to the points per group (the group each entry's customer is filed under), earning and
    expiry day."""
    sums: dict[tuple[str | None, date, date], int] = defaultdict(int)
    changes = group_lot_changes_after(
        state.merchant_id, state.entry_id, high, group=Customer.report_group
    )
    for group, earned_at, expires_at, points in session.execute(changes):
        sums[(group, *lot_days(earned_at, expires_at, state.zone))] += int(points)
    _store_group_days(session, state, sums)


def _store_group_days(
    session: Session, state: ReportRollup, sums: dict[tuple[str | None, date, date], int]
) -> None:
    values = [
        {"merchant_id": state.merchant_id, "grouped": group is not None,
         "customer_group": group or "", "earned_on": earned, "expires_on": expires,
         "points": points}
        for (group, earned, expires), points in sums.items()
        if points
    ]  # fmt: skip
    keys = ["merchant_id", "grouped", "customer_group", "earned_on", "expires_on"]
    statement = _upsert_adding(session, ReportGroupLotDay.__table__, keys, "points")
    for start in range(0, len(values), 1000):
        session.execute(statement, values[start : start + 1000])


def moved_customers() -> ColumnElement[bool]:
    """Customers whose group is not the one their kept points are filed under.

    Written ``(...) IS TRUE`` as the partial index ``ix_customers_report_group_moved``
    is: PostgreSQL estimates that form from the statistics kept on the expression (a
    bare ``IS DISTINCT FROM`` of two columns is guessed at 99.5 % of the customers).
    """
    return Customer.customer_group.is_distinct_from(Customer.report_group).is_(True)


def group_lot_changes_after(
    merchant_id: str, low: Any, high: Any = None, *, group: Any = Customer.customer_group
) -> Select[Any]:
    """``(group, earned_at, expires_at, points)`` of the lots created and of the
    allocations written by the entries after ``low`` (up to ``high``), each in ``group``
    of its entry's customer (as :func:`account_points_after`, by the entry's account)."""

    def upto(column: Any) -> ColumnElement[bool]:
        return literal(True) if high is None else column <= high

    def customer_of(query: Any, entry_id: Any) -> Any:
        return (
            query.join(LedgerEntry, LedgerEntry.id == entry_id)
            .join(Account, Account.id == LedgerEntry.account_id)
            .join(Customer, Customer.id == Account.customer_id)
        )

    lots = customer_of(
        select(group, Lot.earned_at, Lot.expires_at, Lot.points).select_from(Lot), Lot.entry_id
    ).where(
        Lot.merchant_id == merchant_id, points_only(Lot), Lot.entry_id > low, upto(Lot.entry_id)
    )
    moves = customer_of(
        select(group, Lot.earned_at, Lot.expires_at, Allocation.points)
        .select_from(Allocation)
        .join(Lot, Lot.id == Allocation.lot_id),
        Allocation.entry_id,
    ).where(
        Allocation.merchant_id == merchant_id,
        points_only(Lot),
        Allocation.entry_id > low,
        upto(Allocation.entry_id),
    )
    return union_all(lots, moves)


def kept_of_customers(merchant_id: str, low: Any, customers: Any) -> Select[Any]:
    """``(group now, group filed, earned_at, expires_at, points)`` whose sum per customer
    and pair of days is what ``customers`` had kept at the watermark ``low``: their lots'
    points left now, less the changes of their entries after ``low`` (one snapshot; the
    entries are found from the customers, through the accounts' entries index)."""
    columns = (Customer.customer_group, Customer.report_group, Lot.earned_at, Lot.expires_at)
    holds = (
        select(*columns, Lot.remaining)
        .select_from(Lot)
        .join(Account, Account.id == Lot.account_id)
        .join(Customer, Customer.id == Account.customer_id)
        .where(
            Lot.merchant_id == merchant_id,
            points_only(Lot),
            Lot.holds_points,
            Account.merchant_id == merchant_id,
            customers,
        )
    )

    def theirs(query: Any) -> Any:
        return (
            query.join(Account, Account.id == LedgerEntry.account_id)
            .join(Customer, Customer.id == Account.customer_id)
            .where(
                LedgerEntry.merchant_id == merchant_id,
                points_only(LedgerEntry),
                LedgerEntry.id > low,
                Account.merchant_id == merchant_id,
                customers,
            )
        )

    lots = theirs(
        select(*columns, -Lot.points)
        .select_from(LedgerEntry)
        .join(Lot, and_(Lot.merchant_id == merchant_id, Lot.entry_id == LedgerEntry.id))
    )
    moves = theirs(
        select(*columns, -Allocation.points)
        .select_from(LedgerEntry)
        .join(Allocation, Allocation.entry_id == LedgerEntry.id)
        .join(Lot, Lot.id == Allocation.lot_id)
    )
    return union_all(holds, lots, moves)


def _upsert_adding(session: Session, table: Any, keys: list[str], column: str) -> Any:
    """``INSERT`` a row, or add its ``column`` to the row already there."""
    dialect = session.get_bind().dialect.name
    if dialect in ("mysql", "mariadb"):
        from sqlalchemy.dialects import mysql

        statement = mysql.insert(table)
        return statement.on_duplicate_key_update(
            {column: table.c[column] + statement.inserted[column]}
        )
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql as backend
    else:
        from sqlalchemy.dialects import sqlite as backend  # type: ignore[no-redef]
    statement = backend.insert(table)
    return statement.on_conflict_do_update(
        index_elements=keys, set_={column: table.c[column] + statement.excluded[column]}
    )


def month_firsts(first: date, last: date) -> list[date]:
    """The first days of the months from ``first``'s to the one after ``last``'s."""
    months = [first.replace(day=1)]
    while months[-1] <= last:
        day = months[-1]
        months.append(date(day.year + day.month // 12, day.month % 12 + 1, 1))
    return months


def issuing() -> ColumnElement[bool]:
    """Entries that issue points: earnings, opening balances and credit adjustments."""
    return or_(
        LedgerEntry.kind.in_((EntryKind.EARN, EntryKind.MIGRATION)),
        and_(LedgerEntry.kind == EntryKind.ADJUST, LedgerEntry.points > 0),
    )


# -- reading ----------------------------------------------------------------------------


def watermark(merchant_id: str, zone: str) -> ColumnElement[int]:
    """The merchant's watermark as a scalar subquery (0 when its days are of another zone)."""
    mark = (
        select(ReportRollup.entry_id)
        .where(ReportRollup.merchant_id == merchant_id, ReportRollup.zone == zone)
        .scalar_subquery()
    )
    return func.coalesce(mark, literal(0))


def rolled_up(merchant_id: str, zone: str) -> ColumnElement[bool]:
    """True when the merchant's totals are counted in ``zone`` (its current time zone)."""
    return (
        select(ReportRollup.merchant_id)
        .where(ReportRollup.merchant_id == merchant_id, ReportRollup.zone == zone)
        .exists()
    )


def rolled_days(merchant_id: str, zone: str) -> ColumnElement[bool]:
    """Daily totals of the merchant that count: those of its current time zone."""
    return and_(ReportDay.merchant_id == merchant_id, rolled_up(merchant_id, zone))


def day_totals_and_tail(
    *,
    merchant_id: str,
    zone: str,
    first: date,
    last: date,
    bounds: list[datetime],
) -> Select[Any]:
    """Points per bucket, kind and sign of the days ``first`` to ``last``: one statement.

    ``bounds`` are the buckets' local midnights (in UTC), from ``first``'s to the one after
    ``last``; a day is in the bucket its midnight is in. Rolled-up days and the entries
    after the watermark are added up together, in one snapshot.
    """
    day_bounds = [local_today(moment, zone) for moment in bounds]
    days = select(
        bucket(ReportDay.day, day_bounds).label("bucket"),
        ReportDay.kind.label("kind"),
        ReportDay.credit.label("credit"),
        ReportDay.points.label("points"),
    ).where(rolled_days(merchant_id, zone), ReportDay.day >= first, ReportDay.day <= last)
    tail = select(
        bucket(LedgerEntry.created_at, bounds).label("bucket"),
        LedgerEntry.kind.label("kind"),
        (LedgerEntry.points > 0).label("credit"),
        LedgerEntry.points.label("points"),
    ).where(
        _after(merchant_id, watermark(merchant_id, zone)),
        LedgerEntry.created_at >= instant(bounds[0]),
        LedgerEntry.created_at < instant(bounds[-1]),
    )
    both = union_all(days, tail).subquery("both")
    return select(both.c.bucket, both.c.kind, both.c.credit, func.sum(both.c.points)).group_by(
        both.c.bucket, both.c.kind, both.c.credit
    )


def all_time_points(merchant_id: str, zone: str) -> ColumnElement[int]:
    """The sum of every entry of the merchant (rolled-up days and the tail): a scalar."""
    days = select(func.coalesce(func.sum(ReportDay.points), 0)).where(
        rolled_days(merchant_id, zone)
    )
    tail = select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(
        _after(merchant_id, watermark(merchant_id, zone))
    )
    return days.scalar_subquery() + tail.scalar_subquery()
