"""Every ``bench/`` script at its smallest size, so a change that breaks a benchmark fails
the suite (issue 20).

Each run is a smoke run: it checks that the script finishes and prints its table, never its
figures. ``LOYALTY_BENCH_SMOKE=1`` lets it run while another process times a benchmark on
the same server (see ``bench/_common.py``). ``admin.py``, ``audit.py``, ``chaos.py`` and
``imports.py`` have their own tests with closer checks; the last test here makes sure no
script is left without one.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import database_name

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"


@dataclass(frozen=True)
class Smoke:
    """A script, its smallest arguments and the first cells of the rows its table must print."""

    script: str
    arguments: str
    rows: tuple[str, ...]
    postgresql: bool = True


SMOKES = (
    Smoke(
        "earning",
        "--lines 20 --programs 1 --runs kinds:2 --runs segmented:9 --campaigns 2 --samples 2 "
        "--warmup 1",
        ("evaluate", "earn"),
    ),
    Smoke(
        "expiry",
        "--accounts 20 --lots 2 --sample-accounts 5 --batch-size 10",
        ("set-based batches", "naive ORM loop (sample)", "naive ORM loop (scaled)"),
    ),
    Smoke(
        "ledger",
        "--accounts 20 --entries 200 --samples 3 --warmup 1 --lot-accounts 2 --lots 3",
        ("balance", "spendable", "earn", "spend", "spend 3 lots"),
    ),
    Smoke(
        "levels",
        "--accounts 50 --loop-accounts 10 --batch-size 20",
        ("set-based batches", "Python loop (sample)", "Python loop (scaled)"),
    ),
    Smoke(
        "quote",
        # The default clients (1 and 8): the second phase is the one that used to break.
        "--lots 20 --samples 3 --warmup 1",
        (
            "quote x1",
            "hold+capture x1",
            "quote x8",
            "hold+capture x8",
            "quote x1, levels at current_level",
            "quote x1, levels at earning_level",
        ),
    ),
    Smoke(
        "simulation",
        "--invoices 6 --customers 3 --samples 1",
        ("per invoice and version (before)", "loaded in bulk (after)"),
    ),
    Smoke(
        "unsigned_webhooks",
        "--merchants 3 --repeat 1",
        ("not JSON (1 MB)", "merchant_id not a string (1 MB)", "names merchant m1 (1 MB)"),
        postgresql=False,
    ),
    Smoke(
        "webhooks",
        "--seconds 1 --max-events 40 --warmup 5 --clients 2 --workers 1 --threads 2 "
        "--customers 10 --pgbench-seconds 1 --health-seconds 0.5 "
        "--apply-workers 1 --apply-threads 2 --count-events 2",
        (
            "webhooks: events/s",
            "GET /health (the stack's floor): req/s",
            "webhooks / GET /health",
            "SQL statements per new-invoice event",
            "floor, 8 statements and no rules, SQLAlchemy Core: events/s",
            "floor, psycopg alone / GET /health around it",
            "webhooks / floor, SQLAlchemy Core",
            "pgbench one-row UPDATE: TPS",
            "queue intake (202): events/s",
            "queue intake / GET /health around it",
            "queue applied by 1x2 workers: events/s",
            "queue applied / webhooks",
            "ledger verify",
        ),
    ),
)
#: Scripts whose smoke run lives in a test file of its own.
COVERED_ELSEWHERE = {
    "admin": "tests/test_bench_admin.py",
    "audit": "tests/test_bench_audit.py",
    "chaos": "tests/test_bench_chaos.py",
    "imports": "tests/imports/test_bench_imports.py",
}


@pytest.mark.parametrize("smoke", SMOKES, ids=lambda smoke: smoke.script)
def test_the_benchmark_runs_at_its_smallest_size(smoke: Smoke, pytestconfig: pytest.Config) -> None:
    """The script exits 0 and prints a table with each of its rows."""
    command = [sys.executable, f"bench/{smoke.script}.py", *smoke.arguments.split()]
    if smoke.postgresql:
        if "postgresql" not in pytestconfig.getoption("backends"):
            pytest.skip(f"bench/{smoke.script}.py runs on PostgreSQL (--backends excludes it)")
        name = database_name(f"bench_{smoke.script}")
        command += ["--url", f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"]
    result = subprocess.run(
        command,
        cwd=ROOT,
        env=os.environ | {"PYTHONPATH": f"{ROOT}{os.pathsep}{BENCH}", "LOYALTY_BENCH_SMOKE": "1"},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    output = result.stdout + result.stderr[-3000:]
    assert result.returncode == 0, output
    lines = result.stdout.splitlines()
    for row in smoke.rows:
        assert any(re.match(rf"\s*{re.escape(row)}\s{{2,}}\S", line) for line in lines), (
            f"no row {row!r}\n{output}"
        )


def test_every_benchmark_script_has_a_smoke_run() -> None:
    """A new script in ``bench/`` fails here until a smoke run covers it."""
    scripts = {path.stem for path in BENCH.glob("*.py") if not path.stem.startswith("_")}
    covered = {smoke.script for smoke in SMOKES} | set(COVERED_ELSEWHERE)
    assert scripts == covered
    for script, test in COVERED_ELSEWHERE.items():
        assert f"bench/{script}.py" in (ROOT / test).read_text(), test
