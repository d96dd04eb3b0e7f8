"""Fixtures for plugins: the example plugins of hooks/ importable, a recording plugin."""

from __future__ import annotations

from pathlib import Path

import pytest

HOOKS = Path(__file__).resolve().parents[2] / "hooks"


@pytest.fixture
def examples(monkeypatch: pytest.MonkeyPatch) -> None:
    """Put the example plugins (hooks/weekend-points, hooks/log-points) on sys.path."""
    for folder in ("weekend-points", "log-points", "python"):
        monkeypatch.syspath_prepend(str(HOOKS / folder))
