"""``bench/audit.py`` on a few thousand rows, so the audit benchmark cannot rot (issue 14)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import database_name

ROOT = Path(__file__).resolve().parent.parent


def test_the_audit_benchmark_times_every_search_and_the_export(pytestconfig: pytest.Config) -> None:
    """Every search gets a line with its timings, and the export streams every row."""
    if "postgresql" not in pytestconfig.getoption("backends"):
        pytest.skip("bench/audit.py runs on PostgreSQL (--backends excludes it)")
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{database_name('bench_audit')}"
    command = [sys.executable, "bench/audit.py", "--rows", "3000", "--samples", "2", "--url", url]
    result = subprocess.run(
        command,
        cwd=ROOT,
        env=os.environ | {"PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'bench'}"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    searches = (
        "newest first, no filter",
        "target customer c4242",
        "page deep in the history (keyset)",
        "baseline: one row by primary key",
    )
    for name in searches:
        assert any(line.startswith(name) for line in lines), result.stdout
    whole = next(line for line in lines if line.startswith("export_csv, the whole trail"))
    assert whole.split()[4] == "3,000", whole
