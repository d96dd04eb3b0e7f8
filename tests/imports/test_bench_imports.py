"""bench/imports.py runs end to end on a few rows (a smoke test, not a measurement)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import database_name

ROOT = Path(__file__).resolve().parents[2]


def test_the_imports_benchmark_runs_and_leaves_a_sound_ledger() -> None:
    """Every import and baseline gets a figure, and the ledger verifies after the run."""
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{database_name('bench_imports')}"
    result = subprocess.run(
        [sys.executable, "bench/imports.py", "--rows", "40", "--url", url],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'bench'}"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    for label in ("customers import", "balances import", "balances: INSERT loop", "balances: COPY"):
        assert any(line.startswith(label) and " 40 " in line for line in result.stdout.splitlines())
    assert "ledger verify after the run: 0 violation(s)" in result.stdout
