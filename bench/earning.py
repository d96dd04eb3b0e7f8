"""How fast is earning on a 200-line invoice against 250 and against 5,000 rules?

Two operations are timed, each on fresh invoices of the same shape:

* ``evaluate``: load the programs in force, the customer and the rates, and evaluate every
  program on the invoice (what ``loyalty programs simulate`` and a quote would do; no
  writes);
* ``earn``: the whole unit of work of a paid invoice, committed: lock the account,
  evaluate, store each program's evaluation and write one ledger entry per program.

Each is run with the rule index off (every rule tried on every invoice, as before issue 18)
and on (only the rules filed under the invoice's products, categories, channel, store and
level), in the same run, and prints milliseconds and SQL statements per invoice.

Two rule mixes, each spread over ``--programs`` programs:

* ``kinds``: every built-in invoice kind in turn, a seventh of them ``per_amount`` rules
  that earn on every line (the mix of the 57 ms figure of issue 18), on 500 products and
  40 categories;
* ``segmented``: thousands of offers as issue 18 means them: one base rate per program,
  then product offers (2 products each), category offers, and offers gated by channel,
  store, level, or products with a weekday, on 5,000 products and 400 categories; and
  50 running bonus campaigns (``--campaigns``) at every size, a third with budgets:
  ``evaluate`` applies them as a simulation does (nothing charged), ``earn`` charges
  their budgets.

    python bench/earning.py                       # kinds 250, segmented 250 and 5,000
    python bench/earning.py --samples 10 --warmup 2   # a smoke run
    python bench/earning.py --runs kinds:250 --runs segmented:5000
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import count
from typing import Any

import sqlalchemy as sa
from _common import Samples, add_database_arguments, fresh_database, quiet_gc, settle, step, table
from sqlalchemy import event
from sqlalchemy.orm import Session

from loyalty_plugin.domain.programs import ProgramDefinition
from loyalty_plugin.domain.rules import InvoiceView, LineView
from loyalty_plugin.domain.rules.index import RuleIndex
from loyalty_plugin.models import Customer, Merchant
from loyalty_plugin.services.earning.bonus_campaigns import (
    create_bonus_campaign,
    wanted_bonuses,
    with_bonuses,
)
from loyalty_plugin.services.earning.by_program import earn_on_invoice
from loyalty_plugin.services.earning.programs import create_program
from loyalty_plugin.services.earning.rule_engine import (
    RateBook,
    customer_view,
    evaluate_programs,
    merchant_facts,
    programs_in_force,
)
from loyalty_plugin.services.ledger.accounts import open_account
from loyalty_plugin.services.merchants.secrets import merchant_with_secrets
from loyalty_plugin.services.transaction import run_in_transaction


@dataclass(frozen=True)
class Catalog:
    """The products and the category tree (child to parent) the invoices draw from."""

    products: list[str]
    categories: dict[str, str | None]


SMALL = Catalog(
    products=[f"P{i}" for i in range(500)],
    categories={f"c{i}": (f"c{i // 4}" if i >= 4 else None) for i in range(40)},
)
LARGE = Catalog(
    products=[f"P{i}" for i in range(5000)],
    categories={f"c{i}": (f"c{i // 8}" if i >= 8 else None) for i in range(400)},
)
TAGS = [frozenset(), frozenset(), frozenset(), frozenset({"promotional"}), frozenset({"sale"})]
CHANNELS = ["online", "pos", "app", "marketplace"]
STORES = [f"S{i}" for i in range(50)]
LEVELS = ["bronze", "silver", "gold"]


def segmented_rules(program: int, rng: random.Random, count_: int) -> list[dict[str, Any]]:
    """One base rate, then offers on a few products, a category, a channel, a store..."""
    products, cats = LARGE.products, list(LARGE.categories)
    makers: list[Callable[[], dict[str, Any]]] = [
        lambda: {"kind": "product", "products": rng.sample(products, 2), "points_per_unit": "2"},
        lambda: {"kind": "product", "products": rng.sample(products, 2), "points": "2",
                 "per": "10"},
        lambda: {"kind": "product", "products": rng.sample(products, 2), "points_per_unit": "1"},
        lambda: {"kind": "category", "categories": [rng.choice(cats)], "points": "2", "per": "10"},
        lambda: {"kind": "per_order", "points": 10,
                 "conditions": {"channels": [rng.choice(CHANNELS)]}},
        lambda: {"kind": "per_amount", "points": "1", "per": "20",
                 "conditions": {"where": {"stores": [rng.choice(STORES)]}}},
        lambda: {"kind": "per_order", "points": 5,
                 "conditions": {"who": {"levels": [rng.choice(LEVELS)]}}},
        lambda: {"kind": "per_amount", "points": "1", "per": "10",
                 "conditions": {"what": {"products": rng.sample(products, 3)},
                                "when": {"weekdays": [rng.choice(["sat", "sun"])]}}},
    ]  # fmt: skip
    rules = [{"id": f"p{program}-base", "kind": "per_amount", "points": "1", "per": "10"}]
    for index in range(count_ - 1):
        rules.append(makers[index % len(makers)]() | {"id": f"p{program}-r{index}"})
    return rules


def campaigns(rng: random.Random, count_: int, now: datetime) -> list[dict[str, Any]]:
    """``count_`` running campaigns gated as offers are: a level, a channel, a store, a
    category, products; multipliers and fixed points, a third with budgets."""
    cats, products = list(LARGE.categories), LARGE.products
    gates: list[Callable[[], dict[str, Any]]] = [
        lambda: {"who": {"levels": [rng.choice(LEVELS)]},
                 "what": {"categories": [rng.choice(cats)]}},
        lambda: {"channels": [rng.choice(CHANNELS)]},
        lambda: {"where": {"stores": [rng.choice(STORES)]}},
        lambda: {"what": {"categories": [rng.choice(cats)]}},
        lambda: {"what": {"products": rng.sample(products, 5)}},
    ]  # fmt: skip
    made = []
    for index in range(count_):
        bonus = {"multiplier": rng.choice(["1.5", "2", "3"])} if index % 3 else {"points": 25}
        budget = {"budget": 10_000_000, "budget_per_customer": 1_000_000} if index % 3 == 1 else {}
        made.append(
            {"key": f"campaign-{index}", "name": f"Campaign {index}",
             "starts_at": (now - timedelta(days=1)).isoformat(),
             "ends_at": (now + timedelta(days=30)).isoformat(),
             "conditions": gates[index % len(gates)](), "priority": index % 4}
            | bonus | budget
        )  # fmt: skip
    return made


def rules_for(program: int, rng: random.Random, count_: int) -> list[dict[str, Any]]:
    """``count_`` rules of every built-in invoice kind, with exclusions sprinkled in."""
    PRODUCTS, CATEGORIES = SMALL.products, SMALL.categories
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


def set_up(
    engine: sa.Engine,
    *,
    merchant: str,
    mix: str,
    programs: int,
    rules: int,
    bonus_campaigns: int,
    now: datetime,
) -> int:
    """The merchant, one customer, the active programs and the running bonus campaigns;
    returns the customer's id."""
    rng = random.Random(5)
    make = segmented_rules if mix == "segmented" else rules_for
    catalog = LARGE if mix == "segmented" else SMALL
    with Session(engine, expire_on_commit=False) as session:
        session.add(Merchant(id=merchant, name="Bench", currency="EUR"))
        session.flush()
        customer = Customer(merchant_id=merchant, host_customer_id="c1", first_name="B")
        session.add(customer)
        session.flush()
        open_account(session, merchant_id=merchant, customer_id=customer.id)
        for number in range(programs):
            create_program(
                session,
                merchant_id=merchant,
                definition={
                    "key": f"program-{number}",
                    "name": f"Program {number}",
                    "status": "active",
                    "categories": catalog.categories,
                    "rules": make(number, rng, rules),
                },
                now=now - timedelta(days=1),
                actor="bench",
            )
        for campaign in campaigns(rng, bonus_campaigns, now):
            create_bonus_campaign(
                session, merchant_id=merchant, definition=campaign, now=now, actor="bench"
            )
        session.commit()
        return customer.id


def invoice(number: int, lines: int, rng: random.Random, catalog: Catalog) -> InvoiceView:
    """An invoice of ``lines`` lines over many products, categories and tags, from one of
    the stores, through one of the channels."""
    categories = list(catalog.categories)
    items = tuple(
        LineView(
            id=f"L{i}",
            qty=Decimal(rng.randint(1, 4)),
            amount=Decimal(rng.randint(100, 20000)) / 100,
            product_id=rng.choice(catalog.products),
            category_id=rng.choice(categories),
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
        channel=rng.choice(CHANNELS),
        store_id=rng.choice(STORES),
    )


@contextmanager
def rule_index(enabled: bool) -> Iterator[None]:
    """The rule index on, or off: every rule tried on every invoice (before issue 18)."""
    if enabled:
        yield
        return
    indexed = ProgramDefinition.__dict__["rule_index"]
    ProgramDefinition.rule_index = property(lambda _self: RuleIndex())  # type: ignore[assignment,method-assign]
    try:
        yield
    finally:
        ProgramDefinition.rule_index = indexed  # type: ignore[method-assign]


class QueryCounter:
    """Counts the SQL statements an engine runs."""

    def __init__(self, engine: sa.Engine) -> None:
        self.statements = 0
        event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, *_args: Any) -> None:
        self.statements += 1


def evaluate(session: Session, customer: Customer, bill: InvoiceView, now: datetime) -> int:
    """Load and evaluate every program on ``bill``, and the running bonus campaigns as a
    simulation applies them (no budget charged); returns the points (nothing written).

    The merchant row is read with its settings stamp, as a webhook event reads it, so the
    settings cache answers as it does for an event."""
    merchant, _secrets = merchant_with_secrets(session, customer.merchant_id, now=now)
    assert merchant is not None
    programs = programs_in_force(session, merchant_id=customer.merchant_id, at=now)
    view = customer_view(session, customer, invoice_id=bill.id)
    bill = replace(bill, occurred_at=now)
    facts = merchant_facts(session, merchant, programs)
    earned = evaluate_programs(
        programs, invoice=bill, customer=view, rates=RateBook(session, merchant, now),
        merchant=facts,
    )  # fmt: skip
    wanted = wanted_bonuses(
        session, merchant=merchant, invoice=bill, customer=view, facts=facts, earnings=earned,
        at=now,
    )  # fmt: skip
    earned = with_bonuses(earned, wanted, [w.points for _, w in wanted])
    session.rollback()
    return sum(e.points for e in earned)


def earn(session: Session, customer: Customer, bill: InvoiceView, now: datetime) -> int:
    """The whole unit of work of a paid invoice, committed, after reading the merchant row
    with its settings stamp as a webhook event does."""

    def work(s: Session) -> int:
        merchant_with_secrets(s, customer.merchant_id, now=now)
        return earn_on_invoice(
            s,
            merchant_id=customer.merchant_id,
            customer=customer,
            invoice=bill,
            now=now,
            actor="bench",
            paid_in_full=True,
        ).points_earned

    return run_in_transaction(session, work)


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
    catalog: Catalog,
) -> tuple[Samples, float, int]:
    """Time ``operation`` on fresh invoices; returns the samples, queries per call, points."""
    rng = random.Random(lines)
    counter = QueryCounter(engine)
    timed = Samples(operation.__name__)
    points = 0
    with Session(engine, expire_on_commit=False) as session:
        customer = session.get(Customer, customer_id)
        bills = [invoice(next(numbers), lines, rng, catalog) for _ in range(warmup + samples)]
        for bill in bills[:warmup]:
            operation(session, customer, bill, now)
        quiet_gc()
        counter.statements = 0
        for bill in bills[warmup:]:
            timed.time(lambda bill=bill: operation(session, customer, bill, now))
        points = operation(session, customer, invoice(next(numbers), lines, rng, catalog), now)
    event.remove(engine, "before_cursor_execute", counter._count)
    return timed, counter.statements / samples, points


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_database_arguments(parser)
    parser.add_argument("--lines", type=int, default=200, help="invoice lines (default 200)")
    parser.add_argument("--programs", type=int, default=5, help="active programs (default 5)")
    parser.add_argument(
        "--runs",
        action="append",
        help="MIX:RULES, rules in all programs together (default: kinds:250, "
        "segmented:250, segmented:5000)",
    )
    parser.add_argument(
        "--campaigns",
        type=int,
        default=50,
        help="running bonus campaigns in a segmented run (default 50, at every size)",
    )
    parser.add_argument("--samples", type=int, default=50, help="timed invoices per row")
    parser.add_argument("--warmup", type=int, default=5, help="untimed invoices first")
    args = parser.parse_args()
    runs = [r.split(":") for r in args.runs or ["kinds:250", "segmented:250", "segmented:5000"]]
    now = datetime.now(UTC)
    numbers = count(1)
    rows = []
    with fresh_database(args.url, keep=args.keep, sql=args.sql) as engine:
        for mix, total in runs:
            per_program = max(1, int(total) // args.programs)
            merchant = f"bench-{mix}-{total}"
            bonus = args.campaigns if mix == "segmented" else 0
            with step(
                f"{mix}: {args.programs} programs of {per_program} rules, {bonus} bonus campaigns"
            ):
                customer_id = set_up(engine, merchant=merchant, mix=mix, programs=args.programs,
                                     rules=per_program, bonus_campaigns=bonus,
                                     now=now)  # fmt: skip
            settle(engine)
            catalog = LARGE if mix == "segmented" else SMALL
            for operation in (evaluate, earn):
                for indexed in (False, True):
                    label = (
                        f"{operation.__name__}, {mix} {total}, index {'on' if indexed else 'off'}"
                    )
                    with step(label), rule_index(indexed):
                        timed, queries, points = measure(
                            engine, customer_id, operation, lines=args.lines,
                            samples=args.samples, warmup=args.warmup, numbers=numbers, now=now,
                            catalog=catalog,
                        )  # fmt: skip
                    rows.append((operation.__name__, mix, per_program * args.programs, bonus,
                                 "on" if indexed else "off", timed.p50, timed.p99, queries,
                                 points))  # fmt: skip
    print()
    print(
        table(
            [
                "operation",
                "mix",
                "rules",
                "campaigns",
                "index",
                "p50 ms",
                "p99 ms",
                "queries/invoice",
                "points (last)",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
