"""The ``review-levels`` job over 100,000 customers (issue 7): set-based batches against a
per-customer Python loop, in the same run.

Builds 100,000 accounts, each with one paid invoice under a program with levels (Bronze 0,
Silver 10,000, Gold 20,000 on money spent, reviewed every 365 days) and a membership whose
review date has passed, so the job must look at every customer and move about a third of
them. Times :func:`loyalty_plugin.jobs.levels.run_reviews` (one query for the amounts and
one for the memberships per batch of 2,000 accounts, each batch committed) on all of
them. Then puts the memberships back as they were and times the per-customer loop:
:func:`loyalty_plugin.services.levels.memberships.update_levels` for each account, committed every
2,000, on ``--loop-accounts`` of them, scaled to all.

    python bench/levels.py                                   # the full run
    python bench/levels.py --accounts 5000 --loop-accounts 1000   # a smoke run

See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from _common import add_database_arguments, copy_text, fresh_database, settle, step, table
from _ledger_data import MERCHANT, create_accounts, create_merchant, ts
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loyalty_plugin.jobs.levels import run_reviews
from loyalty_plugin.models import LevelHistory
from loyalty_plugin.services.earning.programs import create_program
from loyalty_plugin.services.levels.memberships import update_levels

T0 = datetime(2026, 1, 1, tzinfo=UTC)
NOW = T0 + timedelta(days=400)
LEVELS = {
    "measure": "money",
    "downgrade": "review",
    "review_every_days": 365,
    "tiers": [
        {"key": "bronze", "threshold": "0"},
        {"key": "silver", "threshold": "10000"},
        {"key": "gold", "threshold": "20000", "multiplier": "1.5"},
    ],
}
EARNING_COLUMNS = (
    "merchant_id", "account_id", "invoice_id", "program_id", "program_version_id", "currency",
    "total", "paid", "refunded", "refunded_unassigned", "refunded_lines", "counted",
    "evaluation", "earned", "reversed", "created_at", "updated_at",
)  # fmt: skip
MEMBERSHIP_COLUMNS = (
    "merchant_id", "program_id", "account_id", "level", "earned_level", "source", "amount",
    "since", "review_at", "version", "updated_at",
)  # fmt: skip


def main() -> None:
    args = _parse_args()
    with fresh_database(args.url, keep=args.keep) as engine:
        ids = build(engine, args)
        with step(f"set-based review of {len(ids):,} customers"):
            started = time.perf_counter()
            with Session(engine, expire_on_commit=False) as session:
                moves = run_reviews(session, now=NOW, batch_size=args.batch_size)
            batch_seconds = time.perf_counter() - started
        again = _rerun(engine)
        expected = _history_count(engine)
        reset_memberships(engine, ids)
        sample = ids[: args.loop_accounts]
        with step(f"per-customer Python loop over {len(sample):,} customers"):
            loop_moves, loop_seconds = loop_review(engine, sample, args.batch_size)
    scaled = loop_seconds / len(sample) * len(ids)
    print()
    print(
        table(
            ("review", "customers", "moves", "seconds", "customers/s"),
            [
                ("set-based batches", len(ids), moves, batch_seconds, len(ids) / batch_seconds),
                (
                    "Python loop (sample)",
                    len(sample),
                    loop_moves,
                    loop_seconds,
                    len(sample) / loop_seconds,
                ),
                ("Python loop (scaled)", len(ids), None, scaled, len(sample) / loop_seconds),
            ],
        )
    )
    print(f"\nset-based is {scaled / batch_seconds:.1f}x faster than the per-customer loop")
    print(f"history rows after the set-based run: {expected:,}; a second run moved {again}")


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_database_arguments(parser)
    parser.add_argument("--accounts", type=int, default=100_000, help="customers (100,000)")
    parser.add_argument(
        "--loop-accounts", type=int, default=10_000, help="customers of the loop (10,000)"
    )
    parser.add_argument("--batch-size", type=int, default=2_000, help="accounts per batch")
    return parser.parse_args()


def build(engine: sa.Engine, args: argparse.Namespace) -> list[int]:
    """Accounts with one invoice each and a Gold, Silver or Bronze membership due for review."""
    with step(f"build {args.accounts:,} customers, invoices and memberships"):
        with engine.begin() as conn:
            create_merchant(conn, at=T0 - timedelta(days=30))
            ids = create_accounts(conn, args.accounts, at=T0 - timedelta(days=30))
        with Session(engine) as session:
            program = create_program(
                session,
                merchant_id=MERCHANT,
                definition={
                    "key": "main",
                    "name": "Main",
                    "status": "active",
                    "effective_from": T0.isoformat(),
                    "rules": [{"kind": "per_amount", "points": "1", "per": "10"}],
                    "levels": LEVELS,
                },
                now=T0,
                actor="bench",
            )
            session.commit()
            program_id, version_id = program.id, program.versions[0].id
        with engine.begin() as conn:
            copy_text(conn, "invoice_earnings", EARNING_COLUMNS,
                      "".join(_earning(i, program_id, version_id) for i in ids))  # fmt: skip
        reset_memberships(engine, ids, program_id=program_id)
    with step("VACUUM ANALYZE and CHECKPOINT"):
        settle(engine)
    return ids


def _spent(account_id: int) -> int:
    """Money spent: spread over 0-29,999, so each level gets about a third."""
    return (account_id * 7919) % 30_000


def _earning(account_id: int, program_id: int, version_id: int) -> str:
    stamp = ts(T0 + timedelta(days=account_id % 300))
    amount = f"{_spent(account_id)}.00"
    evaluation = (
        '{"awards": [], "multiplier": "1", "base": null, "conversion": null, "line_qty": {}}'
    )
    return (
        f"{MERCHANT}\t{account_id}\tINV-{account_id}\t{program_id}\t{version_id}\tEUR\t"
        f"{amount}\t{amount}\t0\t0\t{{}}\t[]\t{evaluation}\t0\t0\t{stamp}\t{stamp}\n"
    )


def reset_memberships(engine: sa.Engine, ids: list[int], *, program_id: int | None = None) -> None:
    """Everyone Gold since T0 with a review date passed, and no history."""
    with engine.begin() as conn:
        if program_id is None:
            program_id = conn.exec_driver_sql("SELECT id FROM programs").scalar()
        conn.exec_driver_sql("TRUNCATE level_history, memberships")
        since, review = ts(T0), ts(T0 + timedelta(days=365))
        rows = "".join(
            f"{MERCHANT}\t{program_id}\t{i}\tgold\tgold\tearned\t20000.00\t{since}\t{review}\t1\t{since}\n"
            for i in ids
        )
        copy_text(conn, "memberships", MEMBERSHIP_COLUMNS, rows)


def loop_review(engine: sa.Engine, ids: list[int], batch: int) -> tuple[int, float]:
    """Each customer decided on its own through the service, committed every ``batch``."""
    moves = 0
    started = time.perf_counter()
    with Session(engine, expire_on_commit=False) as session:
        for n, account_id in enumerate(ids, 1):
            moves += len(
                update_levels(
                    session, merchant_id=MERCHANT, account_id=account_id, now=NOW, actor="loop"
                )
            )
            if n % batch == 0:
                session.commit()
        session.commit()
    return moves, time.perf_counter() - started


def _rerun(engine: sa.Engine) -> int:
    with Session(engine) as session:
        return run_reviews(session, now=NOW)


def _history_count(engine: sa.Engine) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.count(LevelHistory.id))) or 0)


if __name__ == "__main__":
    main()
