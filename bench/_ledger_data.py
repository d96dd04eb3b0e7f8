"""Bulk ledger history for benchmarks: simulated in memory, written with COPY.

The history is built the way the service would build it: each earn opens a lot, each
redemption takes points from the open lots in the order :func:`allocate_fifo` (the
service's own rule) gives and records one allocation per lot touched, and every entry
carries the balance right after it. Only the writing differs: rows go to PostgreSQL in a
few COPY statements instead of one ORM flush per entry. ``verify_ledger`` checks the result.
"""

from __future__ import annotations

import hashlib
import io
import random
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from _common import copy_text, sync_sequence

from loyalty_plugin.domain.ledger import LotView, allocate_fifo

MERCHANT = "bench"
#: Lots expire two years after they are earned, or never (one lot in five).
LIFETIME = timedelta(days=730)

CUSTOMER_COLUMNS = (
    "id",
    "merchant_id",
    "host_customer_id",
    "first_name",
    "enrolled",
    "email_opt_in",
    "sms_opt_in",
    "created_at",
    "updated_at",
)
ACCOUNT_COLUMNS = (
    "id",
    "merchant_id",
    "customer_id",
    "balance",
    "lifetime_earned",
    "lifetime_redeemed",
    "lifetime_expired",
    "created_at",
    "updated_at",
)
ENTRY_COLUMNS = (
    "id",
    "merchant_id",
    "account_id",
    "kind",
    "points",
    "balance_after",
    "amount",
    "currency",
    "reference_type",
    "reference_id",
    "idempotency_key",
    "request_hash",
    "actor",
    "created_at",
    "details",
)
LOT_COLUMNS = (
    "id",
    "merchant_id",
    "account_id",
    "entry_id",
    "points",
    "remaining",
    "earned_at",
    "available_from",
    "expires_at",
)
ALLOCATION_COLUMNS = ("id", "merchant_id", "entry_id", "lot_id", "points")


@dataclass(slots=True)
class OpenLot:
    """A lot with points left, as the simulation tracks it."""

    id: int
    remaining: int
    earned_at: datetime
    expires_at: datetime | None


@dataclass(slots=True)
class AccountState:
    """What the simulation must know of an account to append entries to it."""

    id: int
    balance: int = 0
    earned: int = 0
    redeemed: int = 0
    expired: int = 0
    updated_at: datetime | None = None
    lots: list[OpenLot] = field(default_factory=list)


def ts(moment: datetime | None) -> str:
    """A timestamp as the ``UTCDateTime`` column stores it: naive UTC, COPY text."""
    if moment is None:
        return "\\N"
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ")


def create_merchant(connection: sa.Connection, *, at: datetime) -> None:
    connection.exec_driver_sql(
        "INSERT INTO merchants (id, name, currency, timezone, created_at, settings_token) "
        "VALUES (%(id)s, 'Benchmark shop', 'EUR', 'UTC', %(at)s, %(token)s)",
        {"id": MERCHANT, "at": ts(at), "token": secrets.token_hex(16)},
    )


def create_accounts(connection: sa.Connection, count: int, *, at: datetime) -> list[int]:
    """COPY ``count`` customers and their empty accounts; returns the account ids."""
    first = connection.exec_driver_sql("SELECT COALESCE(max(id), 0) + 1 FROM accounts").scalar()
    ids = range(first, first + count)
    stamp = ts(at)
    customers = "".join(
        f"{i}\t{MERCHANT}\tbench-{i}\tCustomer {i}\tt\tf\tf\t{stamp}\t{stamp}\n" for i in ids
    )
    accounts = "".join(f"{i}\t{MERCHANT}\t{i}\t0\t0\t0\t0\t{stamp}\t{stamp}\n" for i in ids)
    copy_text(connection, "customers", CUSTOMER_COLUMNS, customers)
    copy_text(connection, "accounts", ACCOUNT_COLUMNS, accounts)
    sync_sequence(connection, "customers")
    sync_sequence(connection, "accounts")
    return list(ids)


def load_states(connection: sa.Connection, account_ids: list[int]) -> dict[int, AccountState]:
    """Read the accounts and their open lots back, to continue their history."""
    states = {
        row.id: AccountState(row.id, row.balance, row.lifetime_earned, row.lifetime_redeemed)
        for row in connection.execute(
            sa.text(
                "SELECT id, balance, lifetime_earned, lifetime_redeemed FROM accounts "
                "WHERE id = ANY(:ids)"
            ),
            {"ids": account_ids},
        )
    }
    lots = connection.execute(
        sa.text(
            "SELECT id, account_id, remaining, earned_at, expires_at FROM lots "
            "WHERE remaining > 0 AND account_id = ANY(:ids) ORDER BY id"
        ),
        {"ids": account_ids},
    )
    for lot in lots:
        expires = lot.expires_at.replace(tzinfo=UTC) if lot.expires_at else None
        states[lot.account_id].lots.append(
            OpenLot(lot.id, lot.remaining, lot.earned_at.replace(tzinfo=UTC), expires)
        )
    return states


class History:
    """Entries, lots and allocations appended in memory, then written in one go."""

    def __init__(self, connection: sa.Connection) -> None:
        def next_id(table: str) -> int:
            sql = f"SELECT COALESCE(max(id), 0) + 1 FROM {table}"
            return connection.exec_driver_sql(sql).scalar()

        self._entry_id = next_id("ledger_entries")
        self._lot_id = next_id("lots")
        self._first_lot_id = self._lot_id
        self._allocation_id = next_id("allocations")
        self._entries = io.StringIO()
        self._allocations = io.StringIO()
        #: New lots by id: their row (without ``remaining``) and what remains of them.
        self._new_lots: dict[int, tuple[str, OpenLot]] = {}
        #: Lots already in the database that this history spent from: id -> remaining.
        self._old_lots: dict[int, int] = {}
        self.entry_count = 0

    def earn(
        self,
        account: AccountState,
        points: int,
        *,
        at: datetime,
        expires: bool,
        lifetime: timedelta = LIFETIME,
        details: str | None = None,
    ) -> None:
        """A purchase worth ``points`` euros: an ``earn`` entry and a new lot.

        ``details`` is the entry's JSON text (an earning's breakdown), ``None`` for none.
        """
        entry_id = self._entry(
            account, "earn", points, at, amount=f"{points}.0000", details=details
        )
        lot = OpenLot(self._lot_id, points, at, at + lifetime if expires else None)
        self._lot_id += 1
        head = f"{lot.id}\t{MERCHANT}\t{account.id}\t{entry_id}\t{points}"
        tail = f"{ts(at)}\t{ts(at)}\t{ts(lot.expires_at)}\n"
        self._new_lots[lot.id] = (f"{head}\t{{}}\t{tail}", lot)
        account.lots.append(lot)
        account.earned += points

    def redeem(self, account: AccountState, points: int, *, at: datetime) -> None:
        """Points paid on an invoice, taken from the open lots in FIFO order."""
        views = [
            LotView(lot.id, lot.remaining, lot.earned_at, lot.expires_at) for lot in account.lots
        ]
        moves = allocate_fifo(views, points)
        entry_id = self._entry(account, "redeem", -points, at, amount=f"{points / 100:.4f}")
        by_id = {lot.id: lot for lot in account.lots}
        for move in moves:
            lot = by_id[move.lot_id]
            lot.remaining += move.points
            if lot.id < self._first_lot_id:
                self._old_lots[lot.id] = lot.remaining
            self._allocations.write(
                f"{self._allocation_id}\t{MERCHANT}\t{entry_id}\t{lot.id}\t{move.points}\n"
            )
            self._allocation_id += 1
        account.lots = [lot for lot in account.lots if lot.remaining > 0]
        account.redeemed += points

    def expire(self, account: AccountState, *, until: datetime) -> None:
        """What the daily expiry job does: one ``expire`` entry for the lots due by ``until``.

        The entry is dated at the last due lot's expiry, and takes each lot's remainder.
        """
        due = [lot for lot in account.lots if lot.expires_at and lot.expires_at <= until]
        if not due:
            return
        points = sum(lot.remaining for lot in due)
        at = max(lot.expires_at for lot in due)
        entry_id = self._entry(account, "expire", -points, at, amount=None, actor="system")
        for lot in due:
            if lot.id < self._first_lot_id:
                self._old_lots[lot.id] = 0
            self._allocations.write(
                f"{self._allocation_id}\t{MERCHANT}\t{entry_id}\t{lot.id}\t{-lot.remaining}\n"
            )
            self._allocation_id += 1
            lot.remaining = 0
        account.lots = [lot for lot in account.lots if lot.remaining > 0]
        account.expired += points

    def _entry(
        self,
        account: AccountState,
        kind: str,
        points: int,
        at: datetime,
        *,
        amount: str | None,
        actor: str = "webhook",
        details: str | None = None,
    ) -> int:
        entry_id = self._entry_id
        self._entry_id += 1
        self.entry_count += 1
        account.balance += points
        account.updated_at = at
        if amount is None:  # not from an invoice: no money, reference or key
            money = reference = key = "\\N\t\\N"
        else:
            key = f"invoice:INV-{entry_id}:{kind}"
            money = f"{amount}\tEUR"
            reference = f"invoice\tINV-{entry_id}"
            key = f"{key}\t{hashlib.sha256(key.encode()).hexdigest()}"
        # COPY text format: a backslash in the JSON (an escaped quote) is written twice.
        extra = "\\N" if details is None else details.replace("\\", "\\\\")
        self._entries.write(
            f"{entry_id}\t{MERCHANT}\t{account.id}\t{kind}\t{points}\t{account.balance}\t"
            f"{money}\t{reference}\t{key}\t{actor}\t{ts(at)}\t{extra}\n"
        )
        return entry_id

    def write(self, connection: sa.Connection, accounts: list[AccountState]) -> None:
        """COPY the new rows, then bring spent old lots and the accounts up to date."""
        copy_text(connection, "ledger_entries", ENTRY_COLUMNS, self._entries.getvalue())
        lots = "".join(row.format(lot.remaining) for row, lot in self._new_lots.values())
        copy_text(connection, "lots", LOT_COLUMNS, lots)
        copy_text(connection, "allocations", ALLOCATION_COLUMNS, self._allocations.getvalue())
        for name in ("ledger_entries", "lots", "allocations"):
            sync_sequence(connection, name)
        if self._old_lots:
            connection.exec_driver_sql("CREATE TEMP TABLE spent_lots (id bigint, remaining bigint)")
            rows = "".join(f"{i}\t{r}\n" for i, r in self._old_lots.items())
            copy_text(connection, "spent_lots", ("id", "remaining"), rows)
            connection.exec_driver_sql(
                "UPDATE lots SET remaining = s.remaining FROM spent_lots s WHERE lots.id = s.id"
            )
            connection.exec_driver_sql("DROP TABLE spent_lots")
        self._update_accounts(connection, accounts)

    @staticmethod
    def _update_accounts(connection: sa.Connection, accounts: list[AccountState]) -> None:
        connection.exec_driver_sql(
            "CREATE TEMP TABLE new_balances (id bigint, balance bigint, earned bigint, "
            "redeemed bigint, expired bigint, updated_at timestamp)"
        )
        rows = "".join(
            f"{a.id}\t{a.balance}\t{a.earned}\t{a.redeemed}\t{a.expired}\t{ts(a.updated_at)}\n"
            for a in accounts
            if a.updated_at is not None
        )
        copy_text(
            connection,
            "new_balances",
            ("id", "balance", "earned", "redeemed", "expired", "updated_at"),
            rows,
        )
        connection.exec_driver_sql(
            "UPDATE accounts SET balance = n.balance, lifetime_earned = n.earned, "
            "lifetime_redeemed = n.redeemed, lifetime_expired = n.expired, "
            "updated_at = n.updated_at "
            "FROM new_balances n WHERE accounts.id = n.id"
        )
        connection.exec_driver_sql("DROP TABLE new_balances")


def simulate(
    history: History,
    accounts: list[AccountState],
    events: int,
    *,
    start: datetime,
    end: datetime,
    rng: random.Random,
) -> None:
    """``events`` purchases and redemptions by random customers, spread from start to end.

    Customers earn 5 to 200 points per purchase; a customer holding 100 points or more
    redeems one visit in four, a third to all of the balance. Most lots are therefore
    spent to zero over time and a few stay open, as in a live program.
    """
    step = (end - start) / max(events, 1)
    for n in range(events):
        at = start + step * n
        account = rng.choice(accounts)
        if account.balance >= 100 and rng.random() < 0.25:
            history.redeem(account, rng.randint(account.balance // 3, account.balance), at=at)
        else:
            history.earn(account, rng.randint(5, 200), at=at, expires=rng.random() < 0.8)
