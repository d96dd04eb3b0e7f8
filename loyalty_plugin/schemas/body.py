"""Reading a JSON body that anyone may have sent: never a crash, always a clear refusal.

The webhook intake and the API both read bodies here. Numbers with a fraction become
``Decimal`` (never float); ``NaN`` and ``Infinity`` are refused, as is anything but UTF-8;
and a document nested deeper than :data:`MAX_DEPTH` is refused before any recursive code
(marshmallow, our own walks, the driver) can meet it.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

#: Characters no database text column stores: NUL, and UTF-16 surrogates without a pair
#: (JSON's ``"\ud800"``), which UTF-8 cannot encode.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
#: Deepest nesting of arrays and objects accepted; our bodies need about six levels.
MAX_DEPTH = 32


class InvalidJSON(Exception):
    """The body is not UTF-8 JSON, or is nested too deeply to read."""


def parse_json(body: bytes) -> Any:
    """Decode a body: numbers with a fraction become ``Decimal``, never float.

    :raises InvalidJSON: with a message fit for the sender.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidJSON(f"the body is not UTF-8: {error}") from None
    try:
        document = json.loads(
            text, parse_float=Decimal, parse_int=_integer, parse_constant=_no_constant
        )
    except RecursionError:
        raise InvalidJSON(_too_deep()) from None
    except ValueError as error:
        raise InvalidJSON(str(error)) from None
    if depth_exceeds(document, MAX_DEPTH):
        raise InvalidJSON(_too_deep())
    return document


def is_json_type(content_type: str) -> bool:
    """Whether a ``Content-Type`` header says JSON (``application/json``, ``...+json``)."""
    mimetype = content_type.partition(";")[0].strip().lower()
    return mimetype == "application/json" or (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    )


def depth_exceeds(document: Any, limit: int) -> bool:
    """Whether arrays and objects nest more than ``limit`` levels (walked without recursion)."""
    stack: list[tuple[Any, int]] = [(document, 1)] if isinstance(document, dict | list) else []
    while stack:
        value, level = stack.pop()
        children = value.values() if isinstance(value, dict) else value
        if level > limit:
            return True
        stack.extend((child, level + 1) for child in children if isinstance(child, dict | list))
    return False


def unstorable_text(value: Any, path: str = "") -> tuple[str, str] | None:
    """The path of the first string (or key) no database can store, and why; else ``None``.

    Call it on a document :func:`parse_json` returned (its depth is bounded).
    """
    if isinstance(value, str):
        return (path or "_body", _why(found)) if (found := UNSTORABLE.search(value)) else None
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, item in items:
        here = f"{path}.{key}" if path else str(key)
        if isinstance(key, str) and (found := UNSTORABLE.search(key)):
            return here, _why(found)
        if (problem := unstorable_text(item, here)) is not None:
            return problem
    return None


def _why(found: re.Match[str]) -> str:
    if found.group() == "\x00":
        return "must not contain NUL characters"
    return "must not contain unpaired surrogates (\\ud800 to \\udfff): not valid Unicode"


def _integer(digits: str) -> int | Decimal:
    """A JSON integer; one too long for ``int()`` (over 4,300 digits) stays a ``Decimal``,
    so the field that receives it refuses it by name instead of the parser failing."""
    try:
        return int(digits)
    except ValueError:
        return Decimal(digits)


def _too_deep() -> str:
    return f"the body nests arrays and objects more than {MAX_DEPTH} levels deep"


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")
