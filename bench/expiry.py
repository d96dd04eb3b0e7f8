"""Set-based expiry against a naive per-lot ORM loop (issue 8): is it at least 50x faster?

Builds 100,000 accounts holding 1,000,000 lots that are all past their expiry date, plus a
separate sample of 2,000 accounts with 20,000 such lots. Times the naive loop on the
sample: each lot loaded through the ORM, its account locked, one entry and one allocation
added, committed one lot at a time. Then times the real ``expire-points`` work
(:func:`loyalty_plugin.jobs.expiry.run_date_expiry`: set-based batches, each committed) on
the 1,000,000 lots, and compares it with the naive time scaled to 1,000,000 lots.

    python bench/expiry.py                      # the full run, about 5 minutes
    python bench/expiry.py --accounts 2000 --sample-accounts 200   # a smoke run

See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from _common import add_database_arguments, fresh_database, settle, step, table
from _ledger_data import LIFETIME, AccountState, History, create_accounts, create_merchant
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loyalty_plugin.domain.ledger import EntryKind
from loyalty_plugin.jobs.expiry import run_date_expiry
from loyalty_plugin.models import Account, Allocation, LedgerEntry, Lot
from loyalty_plugin.services.ledger.integrity import verify_ledger

#: Lots were earned over the year before T0; with a two-year life they are all due at NOW.
T0 = datetime(2026, 1, 1, tzinfo=UTC)
NOW = T0 + LIFETIME + timedelta(days=1)
GOAL = 50


def main() -> None:
    args = _parse_args()
    with fresh_database(args.url, keep=args.keep) as engine:
        sample, main_ids = build(engine, args)
        with step(f"naive loop over the {args.sample_accounts * args.lots:,}-lot sample"):
            naive_lots, naive_seconds = naive_expire(engine, sample)
        with step(f"set-based expiry of {len(main_ids) * args.lots:,} lots"):
            started = time.perf_counter()
            with Session(engine, expire_on_commit=False) as session:
                totals = run_date_expiry(session, now=NOW, batch_size=args.batch_size)
            batch_seconds = time.perf_counter() - started
        check(engine, expected_entries=naive_lots + len(main_ids))
    scaled = naive_seconds / naive_lots * totals.lots
    speedup = scaled / batch_seconds
    print()
    print(
        table(
            ("expiry", "lots", "accounts", "seconds", "lots/s"),
            [
                (
                    "set-based batches",
                    totals.lots,
                    totals.accounts,
                    batch_seconds,
                    totals.lots / batch_seconds,
                ),
                (
                    "naive ORM loop (sample)",
                    naive_lots,
                    len(sample),
                    naive_seconds,
                    naive_lots / naive_seconds,
                ),
                (
                    "naive ORM loop (scaled)",
                    totals.lots,
                    totals.accounts,
                    scaled,
                    naive_lots / naive_seconds,
                ),
            ],
        )
    )
    verdict = "PASS" if speedup >= GOAL else "MISS"
    print(
        f"\nset-based is {speedup:.0f}x faster than the naive loop scaled to "
        f"{totals.lots:,} lots (goal: {GOAL}x): {verdict}"
    )
    print(f"{totals.batches:,} batches of about {args.batch_size:,} lots, each its own transaction")


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_database_arguments(parser)
    parser.add_argument("--accounts", type=int, default=100_000, help="accounts (100,000)")
    parser.add_argument("--lots", type=int, default=10, help="due lots per account (10)")
    parser.add_argument(
        "--sample-accounts", type=int, default=2_000, help="accounts of the naive sample (2,000)"
    )
    parser.add_argument(
        "--batch-size", type=int, default=5_000, help="due lots per expiry batch (5,000)"
    )
    return parser.parse_args()


def build(engine: sa.Engine, args: argparse.Namespace) -> tuple[list[int], list[int]]:
    """The sample's accounts and the main accounts, each with ``--lots`` due lots."""
    total = args.sample_accounts + args.accounts
    label = f"build {total:,} accounts with {total * args.lots:,} due lots"
    with step(label), engine.begin() as conn:
        create_merchant(conn, at=T0 - timedelta(days=400))
        ids = create_accounts(conn, total, at=T0 - timedelta(days=400))
        accounts = [AccountState(i) for i in ids]
        history = History(conn)
        spread = timedelta(days=365) / (total * args.lots)
        for n in range(args.lots):
            for k, account in enumerate(accounts):
                at = T0 - timedelta(days=365) + spread * (n * total + k)
                history.earn(account, 5 + (k + n) % 50, at=at, expires=True)
        history.write(conn, accounts)
    with step("VACUUM ANALYZE and CHECKPOINT"):
        settle(engine)
    return ids[: args.sample_accounts], ids[args.sample_accounts :]


def naive_expire(engine: sa.Engine, account_ids: list[int]) -> tuple[int, float]:
    """Expire the sample's due lots one by one through the ORM, one transaction each."""
    with Session(engine) as session:
        lot_ids = session.scalars(
            select(Lot.id)
            .where(
                Lot.account_id.between(account_ids[0], account_ids[-1]),
                Lot.remaining > 0,
                Lot.expires_at <= NOW,
            )
            .order_by(Lot.id)
        ).all()
    started = time.perf_counter()
    with Session(engine) as session:
        for lot_id in lot_ids:
            lot = session.get(Lot, lot_id)
            account = session.get(Account, lot.account_id, with_for_update=True)
            points = lot.remaining
            account.balance -= points
            account.lifetime_expired += points
            account.updated_at = NOW
            entry = LedgerEntry(
                merchant_id=lot.merchant_id,
                account_id=account.id,
                kind=EntryKind.EXPIRE,
                points=-points,
                balance_after=account.balance,
                actor="system",
                reason="points reached their expiry date",
                created_at=NOW,
            )
            session.add(entry)
            session.flush()
            session.add(
                Allocation(
                    merchant_id=lot.merchant_id, entry_id=entry.id, lot_id=lot.id, points=-points
                )
            )
            lot.remaining = 0
            session.commit()
    return len(lot_ids), time.perf_counter() - started


def check(engine: sa.Engine, *, expected_entries: int) -> None:
    """Every lot expired once, the expected entries, and a sound ledger."""
    with step("verify_ledger"), Session(engine) as session:
        left = session.scalar(
            select(func.count()).select_from(Lot).where(Lot.remaining > 0, Lot.expires_at <= NOW)
        )
        entries = session.scalar(select(func.count()).where(LedgerEntry.kind == EntryKind.EXPIRE))
        twice = session.scalar(
            select(func.count()).select_from(
                select(Allocation.lot_id)
                .join(LedgerEntry, LedgerEntry.id == Allocation.entry_id)
                .where(LedgerEntry.kind == EntryKind.EXPIRE)
                .group_by(Allocation.lot_id)
                .having(func.count() > 1)
                .subquery()
            )
        )
        violations = verify_ledger(session)
    if left or twice or entries != expected_entries or violations:
        raise SystemExit(
            f"wrong result: {left} lots left, {twice} expired twice, {entries} entries "
            f"(expected {expected_entries}), {len(violations)} ledger violations"
        )
    print(f"ledger clean: {entries:,} expire entries, no lot left, none expired twice")


if __name__ == "__main__":
    main()
