"""Customers as a merchant's staff see them, for ``admin.py``: profiles, cards, levels, history.

Customers, their cards, accounts, memberships and level history are written with COPY (and the paid
invoice behind each earn entry with one ``INSERT ... SELECT``); the ledger
history comes from :class:`_ledger_data.History` (the service's FIFO rule, one lot per earn,
one allocation per lot touched), with what the daily expiry job would have written on the
way: lots expire a year after they are earned, and the first entry of a customer after a
lot's expiry (or the end of the history) is the ``expire`` entry that took it.

Activity is skewed as in a shop: each customer's share of the purchases is drawn from a
Pareto distribution, so most customers have a handful of entries and a few have thousands
(the customer page is timed on both).
"""

from __future__ import annotations

import itertools
import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from _common import copy_text, sync_sequence
from _ledger_data import MERCHANT, AccountState, History, ts
from sqlalchemy.orm import Session

from loyalty_plugin.services.earning.programs import create_program
from loyalty_plugin.services.merchants.registration import create_merchant

#: Points earned a year ago expire now (four lots in five; the rest never expire).
POINTS_LIFETIME = timedelta(days=365)
GROUPS = ("retail",) * 14 + ("wholesale",) * 3 + ("vip",) * 2 + ("staff",)
# fmt: off
FIRST_NAMES = (
    "Anna", "Maria", "Sophie", "Emma", "Mia", "Hannah", "Lea", "Lena", "Laura", "Julia", "Sarah",
    "Lisa", "Marie", "Clara", "Katharina", "Johanna", "Paula", "Charlotte", "Nina", "Elena",
    "Greta", "Ida", "Martha", "Frieda", "Jana", "Irene", "Olga", "Petra", "Rosa", "Alexander",
    "Maximilian", "Paul", "Leon", "Lukas", "Felix", "Jonas", "David", "Elias", "Tim", "Jan",
    "Tobias", "Philipp", "Noah", "Martin", "Markus", "Michael", "Thomas", "Stefan", "Andreas",
    "Christian", "Daniel", "Florian", "Sebastian", "Oliver", "Ben", "Mateo", "Marco", "Luca",
    "Giulia", "Chiara", "Sofia", "Aleksandra", "Piotr", "Tomasz", "Ewa", "Agnieszka", "Jose",
    "Carmen"
)
LAST_NAMES = (
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz",
    "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann",
    "Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann", "Hartmann", "Lange", "Schmitt",
    "Werner", "Schmitz", "Krause", "Meier", "Lehmann", "Schmid", "Schulze", "Maier", "Köhler",
    "Herrmann", "König", "Walter", "Mayer", "Huber", "Kaiser", "Fuchs", "Peters", "Lang", "Scholz",
    "Möller", "Weiß", "Jung", "Hahn", "Schubert", "Vogel", "Friedrich", "Keller", "Günther",
    "Frank", "Berger", "Winkler", "Roth", "Beck", "Lorenz", "Baumann", "Franke", "Albrecht",
    "Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Nowak", "Kowalski",
    "Wiśniewski", "García", "Fernández", "González", "Rodríguez", "López", "Martínez", "Sánchez",
    "Pérez", "Smith", "Jones", "Brown", "Taylor", "Wilson"
)
# fmt: on
CITIES = ("Berlin", "Hamburg", "München", "Köln", "Frankfurt", "Stuttgart", "Leipzig", "Wien")
LEVELS = (("bronze", 0), ("silver", 1_000), ("gold", 3_000))
PROGRAM = {
    "key": "main",
    "name": "Main",
    "status": "active",
    "rules": [{"id": "base", "kind": "per_amount", "points": "1", "per": "1"}],
    "levels": {
        "measure": "money",
        "period": "lifetime",
        "downgrade": "never",
        "tiers": [
            {"key": key, "name": key.title(), "threshold": str(threshold)}
            for key, threshold in LEVELS
        ],
    },
}

# fmt: off
CUSTOMER_COLUMNS = (
    "id", "merchant_id", "host_customer_id", "customer_number", "first_name", "last_name", "email",
    "phone", "city", "country", "date_of_birth", "customer_group", "enrolled", "email_opt_in",
    "sms_opt_in", "card_number", "profile_pending", "created_at", "updated_at"
)
ACCOUNT_COLUMNS = (
    "id", "merchant_id", "customer_id", "balance", "lifetime_earned", "lifetime_redeemed",
    "lifetime_expired", "debt", "created_at", "updated_at"
)
MEMBERSHIP_COLUMNS = (
    "id", "merchant_id", "program_id", "account_id", "level", "earned_level", "source", "amount",
    "since", "version", "updated_at"
)
CARD_COLUMNS = (
    "merchant_id", "number", "status", "batch_id", "customer_id", "created_at", "assigned_at",
    "updated_at",
)
HISTORY_COLUMNS = (
    "id", "merchant_id", "program_id", "account_id", "from_level", "to_level", "reason", "actor",
    "version", "amount", "details", "at"
)
# fmt: on


@dataclass(frozen=True)
class Person:
    """What the search is asked about one customer."""

    id: int
    first_name: str
    last_name: str
    email: str
    phone: str
    number: str
    card: str | None


def person(i: int) -> Person:
    """Customer ``i``'s profile: the same on every run, so searches can be built from ids."""
    rng = random.Random(i)
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    email = f"{first}.{last}.{i}@example.com".lower()
    phone = f"+49 {rng.randint(150, 179)} {i:08d}"
    # Nine customers in ten carry a loyalty card; the numbers follow the merchant's scheme.
    card = luhn(f"2790{i:010d}") if i % 10 else None
    return Person(i, first, last, email, phone, f"K-{i:07d}", card)


def luhn(digits: str) -> str:
    """``digits`` with its Luhn check digit appended."""
    total = 0
    for position, digit in enumerate(reversed(digits)):
        value = int(digit) * (2 if position % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return f"{digits}{(10 - total % 10) % 10}"


def create_merchant_and_program(engine: sa.Engine, *, at: datetime) -> int:
    """The merchant and its levels program, through the services; returns the program's id."""
    with Session(engine) as session:
        create_merchant(
            session,
            merchant_id=MERCHANT,
            name="Benchmark shop",
            currency="EUR",
            default_program=False,
            now=at,
        )
        program = create_program(
            session, merchant_id=MERCHANT, definition=PROGRAM, now=at, actor="bench"
        )
        session.commit()
        return program.id


def seed(
    engine: sa.Engine,
    *,
    program_id: int,
    first: int,
    customers: int,
    entries: int,
    start: datetime,
    end: datetime,
    rng: random.Random,
) -> None:
    """Customers ``first`` .. ``first + customers - 1`` with about ``entries`` ledger entries."""
    ids = range(first, first + customers)
    with engine.begin() as conn:
        write_customers(conn, ids, start=start, end=end, rng=rng)
        write_cards(conn, ids, at=start)
        accounts = [AccountState(i) for i in ids]
        history = History(conn)
        simulate(history, accounts, entries, start=start, end=end, rng=rng)
        history.write(conn, accounts)
        del history
        write_invoices(conn, first_account=first)
        write_levels(conn, accounts, program_id=program_id, end=end)
        tables = ("card_batches", "cards", "customers", "accounts", "invoices", "memberships")
        for name in (*tables, "level_history"):
            sync_sequence(conn, name)


def write_customers(
    conn: sa.Connection, ids: range, *, start: datetime, end: datetime, rng: random.Random
) -> None:
    """COPY the customers and their empty accounts (enrolled over the history's first year)."""
    people, accounts = [], []
    span = (end - start).total_seconds() / 2
    for i in ids:
        p = person(i)
        card = p.card or "\\N"
        joined = ts(start + timedelta(seconds=rng.random() * span))
        born = f"{rng.randint(1940, 2006)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        people.append(
            f"{i}\t{MERCHANT}\t{i}\t{p.number}\t{p.first_name}\t{p.last_name}\t{p.email}\t"
            f"{p.phone}\t{rng.choice(CITIES)}\tDE\t{born}\t{rng.choice(GROUPS)}\tt\t"
            f"{'t' if i % 3 else 'f'}\tf\t{card}\tf\t{joined}\t{joined}\n"
        )
        accounts.append(f"{i}\t{MERCHANT}\t{i}\t0\t0\t0\t0\t0\t{joined}\t{joined}\n")
    copy_text(conn, "customers", CUSTOMER_COLUMNS, "".join(people))
    copy_text(conn, "accounts", ACCOUNT_COLUMNS, "".join(accounts))


def write_cards(conn: sa.Connection, ids: range, *, at: datetime) -> None:
    """One generated batch of cards for these customers: each card holder's card, assigned.

    The batch's numbers follow the scheme (prefix 2790, 15 digits, Luhn); a tenth of them
    are still available (printed, not given out yet), as after a real print run.
    """
    batch_id = _next_id(conn, "card_batches")
    holders = [p for p in map(person, ids) if p.card]
    spare = [luhn(f"2791{i:010d}") for i in ids[::10]]
    conn.exec_driver_sql(
        "INSERT INTO card_batches (id, merchant_id, source, prefix, length, check_digit, "
        "count, created_by, created_at) VALUES (%(id)s, %(merchant)s, 'generated', '279', 15, "
        "'luhn', %(count)s, 'bench', %(at)s)",
        {"id": batch_id, "merchant": MERCHANT, "count": len(holders) + len(spare), "at": ts(at)},
    )
    stamp = ts(at)
    first_card = _next_id(conn, "cards")
    rows = [
        f"{MERCHANT}\t{p.card}\tassigned\t{batch_id}\t{p.id}\t{stamp}\t{stamp}\t{stamp}\n"
        for p in holders
    ] + [f"{MERCHANT}\t{n}\tavailable\t{batch_id}\t\\N\t{stamp}\t\\N\t{stamp}\n" for n in spare]
    copy_text(
        conn,
        "cards",
        ("id", *CARD_COLUMNS),
        "".join(f"{first_card + n}\t{row}" for n, row in enumerate(rows)),
    )


def simulate(
    history: History,
    accounts: list[AccountState],
    entries: int,
    *,
    start: datetime,
    end: datetime,
    rng: random.Random,
) -> None:
    """Purchases and redemptions until about ``entries`` entries, expiries included.

    The clock's step is re-computed from the entries still to write, so that the history
    ends at ``end`` whatever share the expiry entries take.
    """
    # Capped, so that the busiest customer has about a thousand entries, not a tenth of all.
    weights = itertools.accumulate(min(rng.paretovariate(1.2), 500.0) for _ in accounts)
    cumulative = list(weights)
    at = start
    while history.entry_count < entries:
        batch = rng.choices(accounts, cum_weights=cumulative, k=10_000)
        for account in batch:
            left = entries - history.entry_count
            if left <= 0:
                break
            at += (end - at) / left
            history.expire(account, until=at)
            if account.balance >= 100 and rng.random() < 0.25:
                history.redeem(account, rng.randint(account.balance // 3, account.balance), at=at)
            else:
                points = rng.randint(5, 200)
                expires = rng.random() < 0.8
                history.earn(
                    account,
                    points,
                    at=at,
                    expires=expires,
                    lifetime=POINTS_LIFETIME,
                    details=breakdown(points),
                )
    for account in accounts:
        history.expire(account, until=end)


def breakdown(points: int) -> str:
    """An earning's explanation as the programs write it (one rule on the whole invoice)."""
    base = f"{Decimal(points):.2f}"
    return json.dumps(
        {
            "program": "main v1",
            "currency": "EUR",
            "exchange_rate": None,
            "base": base,
            "multiplier": "1",
            "rounding": "down",
            "rounding_scope": "invoice",
            "points": points,
            "breakdown": [
                {
                    "rule": "base",
                    "kind": "per_amount",
                    "line": None,
                    "base": base,
                    "exact": str(points),
                    "points": points,
                    "note": None,
                }
            ],
        },
        separators=(",", ":"),
    )


def write_invoices(conn: sa.Connection, *, first_account: int) -> None:
    """The paid invoice behind each earn entry of accounts from ``first_account`` on."""
    conn.exec_driver_sql(
        "INSERT INTO invoices (merchant_id, host_invoice_id, number, customer_id, status, "
        "currency, total, merchant_total, paid_total, refunded_total, points_earned, "
        "earn_entry_id, items, paid_at, created_at, updated_at) "
        "SELECT e.merchant_id, e.reference_id, e.reference_id, a.customer_id, 'paid', "
        "e.currency, e.amount, e.amount, e.amount, 0, e.points, e.id, '[]', e.created_at, "
        "e.created_at, e.created_at "
        "FROM ledger_entries e JOIN accounts a ON a.id = e.account_id "
        "WHERE e.kind = 'earn' AND e.account_id >= %(first)s ORDER BY e.id",
        {"first": first_account},
    )


def write_levels(
    conn: sa.Connection, accounts: list[AccountState], *, program_id: int, end: datetime
) -> None:
    """Each account's level by money spent (one euro, one point) and the moves that led there."""
    first_membership = _next_id(conn, "memberships")
    first_move = _next_id(conn, "level_history")
    memberships, moves = [], []
    move_id = first_move
    for n, account in enumerate(accounts):
        reached = [key for key, threshold in LEVELS if account.earned >= threshold]
        since = account.updated_at or end
        memberships.append(
            f"{first_membership + n}\t{MERCHANT}\t{program_id}\t{account.id}\t{reached[-1]}\t"
            f"{reached[-1]}\tearned\t{account.earned}\t{ts(since)}\t1\t{ts(since)}\n"
        )
        previous = "\\N"
        for step, key in enumerate(reached):
            at = ts(since - timedelta(days=30 * (len(reached) - 1 - step)))
            reason = "enrolled" if previous == "\\N" else "upgrade"
            moves.append(
                f"{move_id}\t{MERCHANT}\t{program_id}\t{account.id}\t{previous}\t{key}\t"
                f"{reason}\tsystem\t1\t{account.earned}\t{{}}\t{at}\n"
            )
            previous, move_id = key, move_id + 1
    copy_text(conn, "memberships", MEMBERSHIP_COLUMNS, "".join(memberships))
    copy_text(conn, "level_history", HISTORY_COLUMNS, "".join(moves))


def _next_id(conn: sa.Connection, table: str) -> int:
    return conn.exec_driver_sql(f"SELECT COALESCE(max(id), 0) + 1 FROM {table}").scalar()


def now_of(end: datetime) -> datetime:
    """The benchmark's clock, just after the history ends."""
    return end.astimezone(UTC) + timedelta(minutes=1)
