"""The examples of docs/integration.md's "Switching from another loyalty system", by name.

An example is the fenced block right after a ``<!-- example: NAME -->`` line; the tests
use them literally, so the documented files and answers cannot drift from the code.
"""

from __future__ import annotations

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"


def example(name: str, page: str = "integration.md") -> str:
    """The text of the example called ``name`` (without its fences)."""
    text = (DOCS / page).read_text(encoding="utf-8")
    found = re.search(
        rf"^<!-- example: {re.escape(name)} -->\n```[a-z]*\n(.*?)^```$", text, re.M | re.S
    )
    assert found, f"no example {name!r} in docs/{page}"
    return found.group(1)
