"""The layers keep their dependency direction: domain and services know nothing of Flask."""

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    "module",
    ["loyalty_plugin.domain.ledger", "loyalty_plugin.services.ledger", "loyalty_plugin.models"],
)
def test_core_imports_without_flask(module: str) -> None:
    """Importing the core never loads Flask, so jobs and scripts can use it alone."""
    code = f"import sys, {module}; print('flask' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
