"""Plural-aware wording for the portal's templates, shaped like gettext's ``ngettext``.

Templates write ``ngettext("%(num)s point", "%(num)s points", n, num=f.number(n))``: the
same call Flask-Babel's ``ngettext`` answers, so the translation layer can replace this
function without touching a template. Until then English chooses between one and many.
"""

from __future__ import annotations

from typing import Any


def ngettext(singular: str, plural: str, count: int, /, **variables: Any) -> str:
    """``singular`` when ``count`` is 1, else ``plural``, with ``%(name)s`` filled in."""
    variables.setdefault("num", count)
    return (singular if count == 1 else plural) % variables
