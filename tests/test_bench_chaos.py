"""``bench/chaos.py`` with tiny counts, so the chaos script cannot rot (issue 12)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import database_name

ROOT = Path(__file__).resolve().parent.parent
CHECKS = (
    "concurrent adjustments on one account",
    "concurrent holds on one invoice",
    "capture against cancel",
    "duplicate webhooks",
    "kill -9 of a worker and the master, then re-send",
    "ledger verify",
)


def test_the_chaos_script_runs_every_check_and_passes(pytestconfig: pytest.Config) -> None:
    """A smoke run on PostgreSQL prints PASS for each race, the kill -9 and ledger verify."""
    if "postgresql" not in pytestconfig.getoption("backends"):
        pytest.skip("bench/chaos.py runs on PostgreSQL (--backends excludes it)")
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{database_name('bench_chaos')}"
    command = [sys.executable, "bench/chaos.py", "--threads", "4", "--invoices", "2"]
    command += ["--burst", "24", "--url", url, "--deadline", "120"]
    result = subprocess.run(
        command,
        cwd=ROOT,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    lines = result.stdout.splitlines()
    for check in CHECKS:
        assert any(line.startswith(f"PASS  {check}:") for line in lines), result.stdout
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
