"""docs/plugin_hooks.md documents every hookspec with its exact signature."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from loyalty_plugin import hookspecs
from loyalty_plugin.plugins import PROJECT

DOC = Path(__file__).resolve().parents[2] / "docs" / "plugin_hooks.md"


def hookspec_names() -> list[str]:
    return sorted(
        name
        for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(function, f"{PROJECT}_spec")
    )


def signature(name: str) -> str:
    """``name(arg: Type, ...) -> Return`` as written in hookspecs.py."""
    parameters = inspect.signature(getattr(hookspecs, name)).parameters.values()
    arguments = ", ".join(f"{p.name}: {p.annotation}" for p in parameters)
    return f"{name}({arguments}) -> {inspect.signature(getattr(hookspecs, name)).return_annotation}"


def test_there_are_hookspecs_to_check() -> None:
    """The walk finds the hooks (so the parametrised test cannot pass empty)."""
    assert {"points_earned", "register_earning_rules", "host_event_received"} <= set(
        hookspec_names()
    )


def test_calculate_invoice_points_is_retired() -> None:
    """One earning path: the hook is gone, and a plugin still implementing it fails loudly."""
    assert "calculate_invoice_points" not in hookspec_names()
    assert "`calculate_invoice_points`" in DOC.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", hookspec_names())
def test_hookspec_is_documented_with_its_signature(name: str) -> None:
    """Each hook has a ``### `signature``` heading in docs/plugin_hooks.md."""
    headings = re.findall(r"^### `(.+)`$", DOC.read_text(encoding="utf-8"), flags=re.MULTILINE)
    assert signature(name) in headings, f"add a '### `{signature(name)}`' section"


@pytest.mark.parametrize("name", hookspec_names())
def test_hookspec_docstring_says_when_and_what_an_exception_does(name: str) -> None:
    """Every hookspec docstring says when it is called and what an exception does."""
    doc = inspect.getdoc(getattr(hookspecs, name)) or ""
    assert "Called" in doc and "exception" in doc.lower(), name
