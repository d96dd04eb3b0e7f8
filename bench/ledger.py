"""Ledger latency at 10k and at 1M entries (issue 3): is the cost of one operation flat?

Builds 10k accounts with one entry each, copies that database and grows the copy to 1M
entries (the same accounts, about 100 entries each), then times balance reads, earns and
spends through the real services on both: each call its own committed transaction on a
random account, calls to the two databases interleaved at random so that whatever else the
machine does weighs on both sizes alike. The goal: p99 at 1M within 1.2x of p99 at 10k.

    python bench/ledger.py                                   # the full run, 2-3 minutes
    python bench/ledger.py --accounts 500 --entries 20000 --samples 200   # a smoke run

See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from _common import (
    Samples,
    add_database_arguments,
    cloned_database,
    fresh_database,
    quiet_gc,
    settle,
    step,
    table,
)
from _ledger_data import (
    LIFETIME,
    AccountState,
    History,
    create_accounts,
    create_merchant,
    load_states,
    simulate,
)
from sqlalchemy.orm import Session

from loyalty_plugin.domain.errors import InsufficientPoints
from loyalty_plugin.models import Account
from loyalty_plugin.services.ledger import entries as ledger
from loyalty_plugin.services.ledger.integrity import verify_ledger
from loyalty_plugin.services.transaction import run_in_transaction

#: The benchmark's clock: the small ledger is timed at T0, the large one a year of history later.
T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = T0 + timedelta(days=366)
GOAL = 1.2
OPS = ("balance", "spendable", "earn", "spend")
WARMUP_LOT_ACCOUNTS = 3


def main() -> None:
    args = _parse_args()
    rng = random.Random(args.seed)
    started = time.perf_counter()
    with fresh_database(args.url, keep=args.keep, sql=args.sql) as small_db:
        account_ids = build(small_db, args, rng)
        built = time.perf_counter()
        with cloned_database(small_db, "large", keep=args.keep) as large_db:
            grow(large_db, account_ids, args, rng)
            grown = time.perf_counter()
            small = Phase(small_db, now=T0)
            large = Phase(large_db, now=T1)
            measure([small, large], account_ids, args, rng)
            for phase in (small, large):
                with step(f"verify the ledger at {phase.label} entries after the timed calls"):
                    check_ledger(phase.engine)
    print(
        f"\nbuild: {small.label} entries in {built - started:.0f} s, grown to {large.label} "
        f"in {grown - built:.0f} s (simulation, COPY, verify_ledger, VACUUM ANALYZE); "
        f"whole run {time.perf_counter() - started:.0f} s\n"
    )
    print(report(small, large, args))


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_database_arguments(parser)
    parser.add_argument("--accounts", type=int, default=10_000, help="accounts (default 10,000)")
    parser.add_argument(
        "--entries", type=int, default=1_000_000, help="entries to grow to (default 1,000,000)"
    )
    parser.add_argument("--samples", type=int, default=2_000, help="timed calls per op and size")
    parser.add_argument("--warmup", type=int, default=200, help="untimed calls per op first")
    parser.add_argument("--lot-accounts", type=int, default=100, help="many-lots accounts per size")
    parser.add_argument("--lots", type=int, default=200, help="small lots each of them holds")
    parser.add_argument("--seed", type=int, default=3, help="random seed (same data each run)")
    parser.add_argument(
        "--explain", action="store_true", help="EXPLAIN ANALYZE the SELECTs of a spend at each size"
    )
    return parser.parse_args()


# -- data ------------------------------------------------------------------------------


def build(engine: sa.Engine, args: argparse.Namespace, rng: random.Random) -> list[int]:
    """The small ledger: the accounts, each with one earn entry and its lot."""
    with step(f"build {args.accounts:,} accounts with one entry each"), engine.begin() as conn:
        create_merchant(conn, at=T0 - timedelta(days=60))
        ids = create_accounts(conn, args.accounts, at=T0 - timedelta(days=60))
        accounts = [AccountState(i) for i in ids]
        history = History(conn)
        for n, account in enumerate(accounts):
            at = T0 - timedelta(days=30) + timedelta(seconds=n)
            history.earn(account, rng.randint(5, 200), at=at, expires=rng.random() < 0.8)
        history.write(conn, accounts)
    settle_and_check(engine, ids)
    return ids


def grow(
    engine: sa.Engine, account_ids: list[int], args: argparse.Namespace, rng: random.Random
) -> None:
    """The large ledger: a year of purchases and redemptions, up to ``--entries`` in total."""
    events = max(args.entries - count_entries(engine), 0)
    with step(f"grow by {events:,} entries (simulate and COPY)"), engine.begin() as conn:
        accounts = list(load_states(conn, account_ids).values())
        history = History(conn)
        simulate(history, accounts, events, start=T0 + timedelta(days=1), end=T1, rng=rng)
        history.write(conn, accounts)
        del history
    settle_and_check(engine, account_ids)


def settle_and_check(engine: sa.Engine, account_ids: list[int]) -> None:
    with step("verify_ledger"):
        check_ledger(engine)
    with step("VACUUM ANALYZE and CHECKPOINT"):
        settle(engine)
    print(shape(engine, account_ids))


def check_ledger(engine: sa.Engine) -> None:
    with Session(engine) as session:
        violations = verify_ledger(session)
    for violation in violations[:20]:
        print(f"  {violation}")
    if violations:
        raise SystemExit(f"the ledger is broken: {len(violations)} violation(s)")
    print("ledger clean: every verify_ledger check passed")


def shape(engine: sa.Engine, account_ids: list[int]) -> str:
    """Row counts, lots per benchmark account and the database size, for the closing note."""
    with engine.connect() as conn:
        counts = conn.execute(
            sa.text(
                "SELECT (SELECT count(*) FROM ledger_entries), (SELECT count(*) FROM lots), "
                "(SELECT count(*) FROM allocations), "
                "(SELECT count(*) FROM lots WHERE account_id = ANY(:ids)), "
                "(SELECT count(*) FROM lots WHERE account_id = ANY(:ids) AND remaining > 0), "
                "pg_size_pretty(pg_database_size(current_database()))"
            ),
            {"ids": account_ids},
        ).one()
    entries, lots, allocations, own_lots, open_lots, size = counts
    return (
        f"data: {entries:,} entries, {lots:,} lots, {allocations:,} allocations, "
        f"database {size}; per benchmark account {own_lots / len(account_ids):.1f} lots, "
        f"{open_lots / len(account_ids):.1f} of them open"
    )


def buffer_counts(phases: list[Phase]) -> dict[Phase, tuple[int, int]]:
    """Each database's shared-buffer hits and reads so far (pages found, pages read in)."""
    for phase in phases:
        # Closing the pooled connections makes their backends flush their statistics now;
        # an idle backend may otherwise hold them back for up to 10 seconds.
        phase.engine.dispose()
    time.sleep(1)
    sql = "SELECT blks_hit, blks_read FROM pg_stat_database WHERE datname = current_database()"
    counts = {}
    for phase in phases:
        with phase.engine.connect() as conn:
            hit, read = conn.exec_driver_sql(sql).one()
        counts[phase] = (hit, read)
    return counts


def count_entries(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return conn.exec_driver_sql("SELECT count(*) FROM ledger_entries").scalar()


def size_label(entries: int) -> str:
    """10000 -> "10k", 1002000 -> "1M": how the issue names the two sizes."""
    for unit, scale in (("M", 1_000_000), ("k", 1_000)):
        if entries >= scale:
            return f"{entries / scale:.3g}{unit}"
    return str(entries)


# -- timing ----------------------------------------------------------------------------


class Phase:
    """One ledger size: its database, its clock, and the timings taken there."""

    def __init__(self, engine: sa.Engine, *, now: datetime) -> None:
        self.engine = engine
        self.now = now
        self.entries = count_entries(engine)
        self.label = size_label(self.entries)
        self.entries_after_ops = 0
        self.results: dict[str, Samples] = {}
        #: Shared-buffer pages the four ops touched per call, and those read in from outside.
        self.pages_per_call = self.reads_per_call = 0.0


def measure(
    phases: list[Phase], account_ids: list[int], args: argparse.Namespace, rng: random.Random
) -> None:
    """Time the ops on every phase's database, then the many-lots spend, interleaved."""
    for phase in phases:
        if args.explain:
            print(f"-- plans at {phase.label} entries")
            explain_spend(phase.engine, rng.choice(account_ids), now=phase.now)
    quiet_gc()
    sizes = " and ".join(phase.label for phase in phases)
    before = buffer_counts(phases)
    with step(f"time {', '.join(OPS)} at {sizes} entries ({args.samples:,} calls each)"):
        time_ops(phases, account_ids, args, rng)
    record_work(phases, before, calls=len(OPS) * (args.warmup + args.samples))
    with step(f"time spends of {args.lots} small lots ({args.lot_accounts} accounts each)"):
        time_lot_spends(phases, args, rng)


def record_work(phases: list[Phase], before: dict[Phase, tuple[int, int]], *, calls: int) -> None:
    """Store the buffer pages per call each size needed, and its entry count afterwards."""
    after = buffer_counts(phases)
    for phase in phases:
        hit, read = (a - b for a, b in zip(after[phase], before[phase], strict=True))
        phase.pages_per_call, phase.reads_per_call = (hit + read) / calls, read / calls
        phase.entries_after_ops = count_entries(phase.engine)


def time_ops(
    phases: list[Phase], account_ids: list[int], args: argparse.Namespace, rng: random.Random
) -> None:
    """Call the ops in random order across ops and sizes, so noise spreads evenly."""
    makers = {}
    for phase in phases:
        with phase.engine.connect() as conn:
            balances = dict(conn.execute(sa.select(Account.id, Account.balance)).all())
        makers[phase] = Ops(phase.engine, account_ids, balances, rng, now=phase.now)
        phase.results.update({op: Samples(op) for op in OPS})
    for count, timed in ((args.warmup, False), (args.samples, True)):
        plan = [(phase, op) for phase in phases for op in OPS for _ in range(count)]
        rng.shuffle(plan)
        for phase, op in plan:
            action = getattr(makers[phase], op)()
            if timed:
                phase.results[op].time(action)
            else:
                action()


class Ops:
    """Builds one call of each op on a random account, as its own committed transaction."""

    def __init__(
        self,
        engine: sa.Engine,
        account_ids: list[int],
        balances: dict[int, int],
        rng: random.Random,
        *,
        now: datetime,
    ) -> None:
        self.engine = engine
        self.ids = account_ids
        self.balances = balances
        self.rng = rng
        self.now = now
        self.counter = itertools.count()

    def _unit(self, work: Callable[[Session], Any]) -> Callable[[], Any]:
        def run() -> Any:
            with Session(self.engine) as session:
                return run_in_transaction(session, work)

        return run

    def _tick(self) -> datetime:
        # Every call a millisecond later: the ledger's clock only moves forward.
        return self.now + timedelta(milliseconds=next(self.counter))

    def balance(self) -> Callable[[], Any]:
        account_id = self.rng.choice(self.ids)
        return self._unit(lambda s: s.get(Account, account_id).balance)

    def spendable(self) -> Callable[[], Any]:
        account_id, now = self.rng.choice(self.ids), self._tick()
        return self._unit(lambda s: ledger.spendable_points(s, account_id, now))

    def earn(self) -> Callable[[], Any]:
        account_id, now, n = self.rng.choice(self.ids), self._tick(), next(self.counter)
        points = self.rng.randint(5, 200)
        self.balances[account_id] += points
        return self._unit(
            lambda s: ledger.earn(
                s,
                account_id=account_id,
                points=points,
                now=now,
                actor="webhook",
                expires_at=now + LIFETIME,
                money=ledger.Money(Decimal(points), "EUR"),
                reference=ledger.Reference("invoice", f"BENCH-{n}"),
                idempotency_key=f"invoice:BENCH-{n}:earn",
            )
        )

    def spend(self) -> Callable[[], Any]:
        account_id = self.rng.choice(self.ids)
        while self.balances[account_id] < 1:
            account_id = self.rng.choice(self.ids)
        now, n = self._tick(), next(self.counter)
        points = self.rng.randint(1, min(100, self.balances[account_id]))
        self.balances[account_id] -= points
        return self._unit(
            lambda s: ledger.spend(
                s,
                account_id=account_id,
                points=points,
                now=now,
                actor="webhook",
                reference=ledger.Reference("invoice", f"BENCH-{n}"),
                idempotency_key=f"invoice:BENCH-{n}:redeem",
            )
        )


def time_lot_spends(phases: list[Phase], args: argparse.Namespace, rng: random.Random) -> None:
    """Fresh accounts each holding ``--lots`` lots of 1-5 points; each spends all in one call."""
    label = f"spend {args.lots} lots"
    warmups, timed, accounts = [], [], {}
    for phase in phases:
        now = phase.now + timedelta(hours=1)
        accounts[phase] = lot_accounts(phase.engine, args, rng, now=now)
        calls = [(phase, _spend_all(phase.engine, a, now=now)) for a in accounts[phase]]
        warmups += calls[:WARMUP_LOT_ACCOUNTS]
        timed += calls[WARMUP_LOT_ACCOUNTS:]
        phase.results[label] = Samples(label)
    rng.shuffle(timed)
    for _phase, action in warmups:
        action()
    for phase, action in timed:
        phase.results[label].time(action)
    for phase in phases:
        _check_lots_spent(phase.engine, [a.id for a in accounts[phase]], args.lots)


def _spend_all(engine: sa.Engine, account: AccountState, *, now: datetime) -> Callable[[], Any]:
    def work(session: Session) -> Any:
        return ledger.spend(
            session, account_id=account.id, points=account.balance, now=now, actor="webhook"
        )

    def run() -> Any:
        with Session(engine) as session:
            return run_in_transaction(session, work)

    return run


def lot_accounts(
    engine: sa.Engine, args: argparse.Namespace, rng: random.Random, *, now: datetime
) -> list[AccountState]:
    """New accounts (``--lot-accounts`` timed, 3 to warm up) holding ``--lots`` small lots."""
    with engine.begin() as conn:
        ids = create_accounts(conn, args.lot_accounts + WARMUP_LOT_ACCOUNTS, at=now)
        accounts = [AccountState(i) for i in ids]
        history = History(conn)
        for account in accounts:
            for k in range(args.lots):
                at = now - timedelta(minutes=30) + timedelta(seconds=k)
                history.earn(account, rng.randint(1, 5), at=at, expires=True)
        history.write(conn, accounts)
        conn.exec_driver_sql("ANALYZE")
    return accounts


def _check_lots_spent(engine: sa.Engine, account_ids: list[int], lots: int) -> None:
    """Each of those spends emptied its account and took from every one of its lots."""
    with engine.connect() as conn:
        per_entry = conn.execute(
            sa.text(
                "SELECT count(a.id) FROM ledger_entries e JOIN allocations a ON a.entry_id = e.id "
                "WHERE e.account_id = ANY(:ids) AND e.kind = 'redeem' GROUP BY e.id"
            ),
            {"ids": account_ids},
        ).scalars()
        left = conn.execute(
            sa.text("SELECT sum(balance) FROM accounts WHERE id = ANY(:ids)"), {"ids": account_ids}
        ).scalar()
        counts = list(per_entry)
    assert left == 0 and len(counts) == len(account_ids) and set(counts) == {lots}


# -- investigation ---------------------------------------------------------------------


def explain_spend(engine: sa.Engine, account_id: int, *, now: datetime) -> None:
    """Print EXPLAIN (ANALYZE, BUFFERS) of every SELECT one spend of 1 point runs."""
    captured: list[tuple[str, Any]] = []

    def capture(_c: Any, _cur: Any, statement: str, params: Any, _ctx: Any, _many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            captured.append((statement, params))

    sa.event.listen(engine, "before_cursor_execute", capture)
    try:
        # An empty account still runs the lot query before refusing; nothing is committed.
        with Session(engine) as session, contextlib.suppress(InsufficientPoints):
            ledger.spend(session, account_id=account_id, points=1, now=now, actor="bench")
    finally:
        sa.event.remove(engine, "before_cursor_execute", capture)
    with engine.connect() as conn:
        for statement, params in captured:
            plan = conn.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", params)
            print(f"\n{' '.join(statement.split())}\n  " + "\n  ".join(plan.scalars()))
        conn.rollback()
    print()


# -- report ----------------------------------------------------------------------------


def report(small: Phase, large: Phase, args: argparse.Namespace) -> str:
    """The closing-note table: p50 and p99 per size, the p99 ratio and the verdict."""
    rows = []
    for op, before in small.results.items():
        after = large.results[op]
        ratio = after.p99 / before.p99
        verdict = "PASS" if ratio <= GOAL else "MISS"
        rows.append((op, before.p50, before.p99, after.p50, after.p99, f"{ratio:.2f}x", verdict))
    a, b = small.label, large.label
    headers = (
        "op",
        f"p50 {a} ms",
        f"p99 {a} ms",
        f"p50 {b} ms",
        f"p99 {b} ms",
        "p99 ratio",
        "goal",
    )
    return (
        f"{table(headers, rows)}\n"
        f"goal: p99 at {b} within {GOAL}x of p99 at {a}. While the first four ops were "
        f"timed, entries grew from {small.entries:,} to {small.entries_after_ops:,} and "
        f"from {large.entries:,} to {large.entries_after_ops:,}; then the many-lots accounts "
        f"added {(args.lot_accounts + WARMUP_LOT_ACCOUNTS) * args.lots:,} more to each.\n"
        f"shared-buffer pages per call (mean of the four ops; not noisy): "
        + ", ".join(
            f"{p.label} {p.pages_per_call:.1f} ({p.reads_per_call:.1f} read in)"
            for p in (small, large)
        )
    )


if __name__ == "__main__":
    main()
