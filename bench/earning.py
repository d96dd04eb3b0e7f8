"""How fast is earning on a 200-line invoice against 5 programs of 50 rules each?

Two operations are timed, each on fresh invoices of the same shape:

* ``evaluate``: load the programs in force, the customer and the rates, and evaluate every
  program on the invoice (what ``loyalty programs simulate`` and a quote would do; no
  writes);
* ``earn``: the whole unit of work of a paid invoice, committed: lock the account,
  evaluate, store each program's evaluation and write one ledger entry per program.

Both print milliseconds per invoice and SQL statements per invoice, measured at 20 lines
and at the full line count, to show that the number of queries does not grow with lines.

    python bench/earning.py                           # 200 lines, 200 samples
    python bench/earning.py --samples 20 --warmup 3   # a smoke run
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import count
from typing import Any

import sqlalchemy as sa
from _common import Samples, add_database_arguments, fresh_database, quiet_gc, settle, step, table
from sqlalchemy import event
from sqlalchemy.orm import Session

from loyalty_plugin.domain.rules import InvoiceView, LineView
from loyalty_plugin.models import Customer, Merchant
from loyalty_plugin.services.earning.by_program import earn_on_invoice
from loyalty_plugin.services.earning.programs import create_program
from loyalty_plugin.services.earning.rule_engine import (
    RateBook,
    customer_view,
    evaluate_programs,
    programs_in_force,
)
from loyalty_plugin.services.ledger.accounts import open_account
from loyalty_plugin.services.transaction import run_in_transaction

CATEGORIES = {f"c{i}": (f"c{i // 4}" if i >= 4 else None) for i in range(40)}
PRODUCTS = [f"P{i}" for i in range(500)]
TAGS = [frozenset(), frozenset(), frozenset(), frozenset({"promotional"}), frozenset({"sale"})]


def rules_for(program: int, rng: random.Random, count_: int) -> list[dict[str, Any]]:
    """``count_`` rules of every built-in invoice kind, with exclusions sprinkled in."""
    makers: list[Callable[[int], dict[str, Any]]] = [
        lambda i: {"kind": "per_amount", "points": "1", "per": str(rng.choice([5, 10, 20]))},
        lambda i: {"kind": "product", "products": rng.sample(PRODUCTS, 20), "points_per_unit": "2"},
        lambda i: {"kind": "category", "categories": [rng.choice(list(CATEGORIES))],
                   "points": "3", "per": "10"},
        lambda i: {"kind": "progressive", "brackets": [
            {"up_to": "1000", "points": "1", "per": "10"}, {"points": "2", "per": "10"}]},
        lambda i: {"kind": "segmented", "brackets": [
            {"from": "0", "to": "5000", "points": 10}, {"from": "5000", "points": 100}]},
        lambda i: {"kind": "per_order", "points": 5},
        lambda i: {"kind": "transaction_fee", "points": "1", "per": "1"},
    ]  # fmt: skip
    rules = []
    for index in range(count_):
        rule = makers[index % len(makers)](index) | {"id": f"p{program}-r{index}"}
        if index % 3 == 0:
            rule["exclude"] = {"products": rng.sample(PRODUCTS, 10), "tags": ["sale"]}
        rules.append(rule)
    return rules


def set_up(engine: sa.Engine, *, programs: int, rules: int, now: datetime) -> int:
    """The merchant, one customer and the active programs; returns the customer's id."""
    rng = random.Random(5)
    with Session(engine, expire_on_commit=False) as session:
        session.add(Merchant(id="bench", name="Bench", currency="EUR"))
        session.flush()
        customer = Customer(merchant_id="bench", host_customer_id="c1", first_name="B")
        session.add(customer)
        session.flush()
        open_account(session, merchant_id="bench", customer_id=customer.id)
        for number in range(programs):
            create_program(
                session,
                merchant_id="bench",
                definition={
                    "key": f"program-{number}",
                    "name": f"Program {number}",
                    "status": "active",
                    "categories": CATEGORIES,
                    "rules": rules_for(number, rng, rules),
                },
                now=now - timedelta(days=1),
                actor="bench",
            )
        session.commit()
        return customer.id


def invoice(number: int, lines: int, rng: random.Random) -> InvoiceView:
    """An invoice of ``lines`` lines over many products, categories and tags."""
    items = tuple(
        LineView(
            id=f"L{i}",
            qty=Decimal(rng.randint(1, 4)),
            amount=Decimal(rng.randint(100, 20000)) / 100,
            product_id=rng.choice(PRODUCTS),
            category_id=rng.choice(list(CATEGORIES)),
            tags=rng.choice(TAGS),
        )
        for i in range(lines)
    )
    total = sum((item.amount for item in items), Decimal(0))
    return InvoiceView(
        id=f"INV-{number}",
        currency="EUR",
        total=total,
        lines=items,
        transaction_fee=Decimal("12.50"),
    )


class QueryCounter:
    """Counts the SQL statements an engine runs."""

    def __init__(self, engine: sa.Engine) -> None:
        self.statements = 0
        event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, *_args: Any) -> None:
        self.statements += 1


def evaluate(session: Session, customer: Customer, bill: InvoiceView, now: datetime) -> int:
    """Load and evaluate every program on ``bill``; returns the points (nothing written)."""
    merchant = session.get(Merchant, "bench")
    programs = programs_in_force(session, merchant_id="bench", at=now)
    view = customer_view(session, customer, invoice_id=bill.id)
    earned = evaluate_programs(
        programs, invoice=bill, customer=view, rates=RateBook(session, merchant, now)
    )
    session.rollback()
    return sum(e.points for e in earned)


def earn(session: Session, customer: Customer, bill: InvoiceView, now: datetime) -> int:
    """The whole unit of work of a paid invoice, committed."""
    outcome = run_in_transaction(
        session,
        lambda s: earn_on_invoice(
            s,
            merchant_id="bench",
            customer=customer,
            invoice=bill,
            now=now,
            actor="bench",
            paid_in_full=True,
        ),
    )
    return outcome.points_earned


def measure(
    engine: sa.Engine,
    customer_id: int,
    operation: Callable[..., int],
    *,
    lines: int,
    samples: int,
    warmup: int,
    numbers: count,
    now: datetime,
) -> tuple[Samples, float, int]:
    """Time ``operation`` on fresh invoices; returns the samples, queries per call, points."""
    rng = random.Random(lines)
    counter = QueryCounter(engine)
    timed = Samples(operation.__name__)
    points = 0
    with Session(engine, expire_on_commit=False) as session:
        customer = session.get(Customer, customer_id)
        bills = [invoice(next(numbers), lines, rng) for _ in range(warmup + samples)]
        for bill in bills[:warmup]:
            operation(session, customer, bill, now)
        quiet_gc()
        counter.statements = 0
        for bill in bills[warmup:]:
            timed.time(lambda bill=bill: operation(session, customer, bill, now))
        points = operation(session, customer, invoice(next(numbers), lines, rng), now)
    event.remove(engine, "before_cursor_execute", counter._count)
    return timed, counter.statements / samples, points


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_database_arguments(parser)
    parser.add_argument("--lines", type=int, default=200, help="invoice lines (default 200)")
    parser.add_argument("--programs", type=int, default=5, help="active programs (default 5)")
    parser.add_argument("--rules", type=int, default=50, help="rules per program (default 50)")
    parser.add_argument("--samples", type=int, default=200, help="timed invoices per row")
    parser.add_argument("--warmup", type=int, default=20, help="untimed invoices first")
    args = parser.parse_args()
    now = datetime.now(UTC)
    numbers = count(1)
    with fresh_database(args.url, keep=args.keep, sql=args.sql) as engine:
        with step(f"{args.programs} programs of {args.rules} rules"):
            customer_id = set_up(engine, programs=args.programs, rules=args.rules, now=now)
        settle(engine)
        rows = []
        for operation in (evaluate, earn):
            for lines in sorted({20, args.lines}):
                with step(f"{operation.__name__}, {lines} lines"):
                    timed, queries, points = measure(
                        engine, customer_id, operation, lines=lines, samples=args.samples,
                        warmup=args.warmup, numbers=numbers, now=now,
                    )  # fmt: skip
                rows.append((operation.__name__, lines, timed.p50, timed.p99, queries, points))
        print()
        print(
            table(
                ["operation", "lines", "p50 ms", "p99 ms", "queries/invoice", "points (last)"],
                rows,
            )
        )


if __name__ == "__main__":
    main()
