"""Importing customers and opening balances (issue 13): rows per second of
``import_customers`` and ``import_balances`` on PostgreSQL, against a plain INSERT loop and
a COPY of the same rows into a bare table, in the same run.

Writes two CSV files of ``--rows`` rows (customers with every column; one opening-balance
lot per customer), then times, each from the file on disk:

* the customers import (creates every customer), and the same file again (all unchanged);
* the opening-balances import (one ``migration`` entry and lot per row, through the
  ledger's account lock), and the same file again (all already imported);
* the baselines: the same rows, read by ``csv.reader``, into a bare table with the same
  columns and no foreign keys, by one ``INSERT`` per row (committed every 500) and by
  ``COPY``.

    python bench/imports.py                  # 20,000 rows
    python bench/imports.py --rows 500       # a smoke run

See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import csv
import io
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from _common import add_database_arguments, copy_text, fresh_database, settle, step, table
from sqlalchemy.orm import Session

from loyalty_plugin.models import Merchant
from loyalty_plugin.services.intake.imports import ImportReport, import_balances, import_customers
from loyalty_plugin.services.ledger.integrity import verify_ledger

MERCHANT = "bench"
NOW = datetime(2026, 6, 1, tzinfo=UTC)
CUSTOMER_HEADER = (
    "customer_id,first_name,last_name,email,phone,country,date_of_birth,card_number,"
    "enrolled,email_opt_in\n"
)
BALANCE_HEADER = "customer_id,points,earned_at,expires_at\n"
BARE_CUSTOMERS = """CREATE TABLE bare_customers (
    customer_id varchar(64) PRIMARY KEY, first_name varchar(100), last_name varchar(100),
    email varchar(254), phone varchar(32), country varchar(2), date_of_birth date,
    card_number varchar(64) UNIQUE, enrolled boolean, email_opt_in boolean)"""
BARE_BALANCES = """CREATE TABLE bare_balances (
    id bigserial PRIMARY KEY, customer_id varchar(64), points bigint,
    earned_at timestamptz, expires_at timestamptz)"""


def main() -> None:
    args = _parse_args()
    folder = Path(tempfile.mkdtemp(prefix="loyalty-bench-imports-"))
    customers, balances = write_files(folder, args.rows)
    with fresh_database(args.url, keep=args.keep, sql=args.sql) as engine:
        with engine.begin() as conn:
            conn.exec_driver_sql(BARE_CUSTOMERS)
            conn.exec_driver_sql(BARE_BALANCES)
        with Session(engine) as session:
            session.add(Merchant(id=MERCHANT, name="Bench", currency="EUR", timezone="UTC"))
            session.commit()
        settle(engine)
        rows = measure(engine, customers, balances, args.rows)
        with Session(engine) as session:
            violations = verify_ledger(session)
    print()
    print(table(("what", "rows", "seconds", "rows/s"), rows))
    by_name = {name: n / seconds for name, n, seconds, _rate in rows}
    print()
    for ours, bare in (
        ("customers import", "customers: INSERT loop"),
        ("balances import", "balances: INSERT loop"),
    ):
        print(
            f"{ours}: {by_name[ours] / by_name[bare]:.2f}x the INSERT loop, "
            f"{by_name[ours] / by_name[bare.replace('INSERT loop', 'COPY')]:.3f}x COPY"
        )
    print(f"ledger verify after the run: {len(violations)} violation(s)")


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_database_arguments(parser)
    parser.add_argument("--rows", type=int, default=20_000, help="rows per file (20,000)")
    return parser.parse_args()


def write_files(folder: Path, n: int) -> tuple[Path, Path]:
    """A customers file and an opening-balances file of ``n`` rows each."""
    customers, balances = folder / "customers.csv", folder / "balances.csv"
    with customers.open("w", encoding="utf-8", newline="") as out:
        out.write(CUSTOMER_HEADER)
        for i in range(n):
            out.write(
                f"{i},First{i},Last {i},c{i}@example.com,+49 30 {i:07d},DE,"
                f"{1950 + i % 50}-{1 + i % 12:02d}-{1 + i % 28:02d},CARD-{i:08d},"
                f"{'true' if i % 10 else 'false'},{'true' if i % 3 else 'false'}\n"
            )
    with balances.open("w", encoding="utf-8", newline="") as out:
        out.write(BALANCE_HEADER)
        for i in range(n):
            earned = NOW - timedelta(days=30 + i % 300)
            expires = "" if i % 4 == 0 else f"{(earned + timedelta(days=730)).date()}"
            out.write(f"{i},{10 + i % 990},{earned.date()},{expires}\n")
    return customers, balances


def measure(engine: sa.Engine, customers: Path, balances: Path, n: int) -> list[tuple]:
    """Each import and each baseline, timed: ``(what, rows, seconds, rows/s)``."""

    def ours(label: str, run: Callable[[Session, io.TextIOBase], ImportReport], path: Path):
        with step(label), Session(engine) as session, path.open(newline="") as lines:
            started = time.perf_counter()
            report = run(session, lines)
            seconds = time.perf_counter() - started
        if report.error_count:
            raise SystemExit(f"{label}: {report.errors[:3]}")
        return (label, n, seconds, n / seconds)

    def people(session: Session, lines: io.TextIOBase) -> ImportReport:
        return import_customers(session, merchant_id=MERCHANT, lines=lines, now=NOW)

    def points(session: Session, lines: io.TextIOBase) -> ImportReport:
        return import_balances(session, merchant_id=MERCHANT, lines=lines, now=NOW, actor="bench")

    return [
        ours("customers import", people, customers),
        ours("customers again (unchanged)", people, customers),
        bare(engine, "customers: INSERT loop", customers, "bare_customers", insert=True),
        bare(engine, "customers: COPY", customers, "bare_customers", insert=False),
        ours("balances import", points, balances),
        ours("balances again (already imported)", points, balances),
        bare(engine, "balances: INSERT loop", balances, "bare_balances", insert=True),
        bare(engine, "balances: COPY", balances, "bare_balances", insert=False),
    ]


def bare(engine: sa.Engine, label: str, path: Path, name: str, *, insert: bool) -> tuple:
    """The same rows, read by ``csv.reader``, into a bare table: INSERT per row, or COPY."""
    with engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {name}")
    with step(label), path.open(newline="") as lines:
        started = time.perf_counter()
        reader = csv.reader(lines)
        header = next(reader)
        with engine.begin() as conn:
            if insert:
                n = _insert_loop(conn, name, header, reader)
            else:
                n = _copy(conn, name, header, reader)
        seconds = time.perf_counter() - started
    return (label, n, seconds, n / seconds)


def _insert_loop(conn: sa.Connection, name: str, header: list[str], reader) -> int:
    cursor = conn.connection.driver_connection.cursor()
    statement = (
        f"INSERT INTO {name} ({', '.join(header)}) VALUES ({', '.join(['%s'] * len(header))})"
    )
    n = 0
    for n, row in enumerate(reader, 1):
        cursor.execute(statement, [cell or None for cell in row])
        if n % 500 == 0:
            conn.connection.driver_connection.commit()
    return n


def _copy(conn: sa.Connection, name: str, header: list[str], reader) -> int:
    buffer = io.StringIO()
    n = 0
    for row in reader:
        n += 1
        buffer.write("\t".join(cell or "\\N" for cell in row) + "\n")
    copy_text(conn, name, header, buffer.getvalue())
    return n


if __name__ == "__main__":
    main()
