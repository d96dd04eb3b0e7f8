"""``bench/admin.py`` on a few hundred customers, so the admin benchmark cannot rot (issue 14)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import database_name, drop_server_database

ROOT = Path(__file__).resolve().parent.parent
PAGES = (
    "search: name prefix",
    "search: e-mail",
    "search: phone",
    "search: customer number",
    "search: card number",
    "customer page: typical",
    "customer page: 20 busiest",
    "dashboard: default period",
    "dashboard: a year",
    "aging by group",
    "aging by customer",
    "aging by card",
    "GET /health (baseline)",
    "SELECT customer by id (baseline)",
)
#: A report row: page, samples, four timings, statements at both sizes, verdict.
ROW = re.compile(
    r"^(?P<page>.+?)(?: \(service\))?\s+\d+\s+(?:[\d.]+\s+){4}"
    r"(?P<small>[\d-]+)\s+(?P<large>[\d-]+)\s+(?P<goal>PASS|FAIL.*|-)$"
)


def test_the_admin_benchmark_times_every_page_at_two_sizes(pytestconfig: pytest.Config) -> None:
    """Both sizes seed a clean ledger, every page gets a timing, and no page runs more
    statements on the larger database."""
    if "postgresql" not in pytestconfig.getoption("backends"):
        pytest.skip("bench/admin.py runs on PostgreSQL (--backends excludes it)")
    name = database_name("bench_admin")
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    command = [sys.executable, "bench/admin.py", "--customers", "400", "--entries", "4000"]
    command += ["--samples", "3", "--warmup", "1", "--queries", "4", "--url", url]
    try:
        seeded = run([*command, "--keep"])
        assert seeded.count("ledger clean: every verify_ledger check passed") == 2
        check_rows(seeded)
        # --reuse times the databases the run kept, without seeding them again.
        reused = run([*command, "--reuse"])
        assert "seed " not in reused and "rolled up 0 entries" in reused
        check_rows(reused)
    finally:
        for database in (name, f"{name}_large"):
            drop_server_database("postgresql", database)


def run(command: list[str]) -> str:
    result = subprocess.run(
        command,
        cwd=ROOT,
        # A smoke run: its figures mean nothing, so it need not wait for a benchmark.
        env=os.environ
        | {"PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'bench'}", "LOYALTY_BENCH_SMOKE": "1"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def check_rows(stdout: str) -> None:
    """Every page has a row, and none runs more statements on the larger database."""
    rows = {m["page"]: m for line in stdout.splitlines() if (m := ROW.match(line))}
    assert sorted(rows) == sorted(PAGES), stdout
    for page, row in rows.items():
        assert row["small"] == row["large"] or page.startswith("SELECT"), row.string
        assert "SQL grows" not in row["goal"], row.string
