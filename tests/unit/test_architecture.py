"""The layers keep their dependency direction: domain, models and services know no Flask."""

import subprocess
import sys

import pytest

CHECK = """
import importlib, pkgutil, sys
package = importlib.import_module("{package}")
names = [m.name for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".")]
for name in names:
    importlib.import_module(name)
print(len(names), "flask" in sys.modules)
"""


@pytest.mark.parametrize(
    "package", ["loyalty_plugin.domain", "loyalty_plugin.models", "loyalty_plugin.services"]
)
def test_core_imports_without_flask(package: str) -> None:
    """Importing every core module never loads Flask, so jobs and scripts can use it alone."""
    out = subprocess.run(
        [sys.executable, "-c", CHECK.format(package=package)],
        capture_output=True,
        text=True,
        check=True,
    )
    modules, flask_loaded = out.stdout.split()
    assert int(modules) > 0
    assert flask_loaded == "False"
