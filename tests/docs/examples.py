"""Read the examples of a docs page and compare documented answers with real ones.

A page's examples are fenced ``http`` blocks, and ``sh tested`` blocks of ``loyalty``
commands that set things up; they run in the order they appear. A request block starts
with ``METHOD /path HTTP/1.1``, then headers, a blank line and an optional JSON body. The
answer block after it starts with ``HTTP/1.1 STATUS`` and holds the documented JSON body.

An answer with a ``Content-Type: text/csv`` line documents CSV: its lines are compared
one by one, a ``...`` cell matches any cell and a last line ``...`` allows more lines.

In a documented body ``...`` stands for "anything": ``"event_id": ...`` is any value,
``{"id": 7, ...}`` an object that may have more keys, ``[1, ...]`` a list that may have
more items. Everything else must be equal, and an object without ``...`` must have exactly
the documented keys, so an answer cannot grow or lose a field unnoticed.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
REQUEST_LINE = re.compile(r"^(GET|POST|PATCH|PUT|DELETE) (/\S*)(?: HTTP/1\.1)?$")
STATUS_LINE = re.compile(r"^HTTP/1\.1 (\d{3})\b")
ANY = "<documented as ...>"
MORE = "<and more, documented as ...>"


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: str
    line: int


@dataclass
class Answer:
    status: int
    body: Any
    line: int
    #: The documented CSV text, for a ``text/csv`` answer (``body`` is then ``None``).
    csv: str | None = None


@dataclass
class Example:
    request: Request
    answer: Answer
    page: str = ""
    notes: list[str] = field(default_factory=list)

    def where(self) -> str:
        return f"{self.page}:{self.request.line}"


@dataclass
class Commands:
    """``loyalty`` command lines of an ``sh tested`` block, each as its words."""

    lines: list[list[str]]
    line: int
    page: str = ""


def read_examples(page: Path) -> list[Example | Commands]:
    """The commands and request/answer pairs of ``page``, in the order they appear."""
    text = page.read_text(encoding="utf-8")
    examples: list[Example | Commands] = []
    pending: Request | None = None
    for match in FENCE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        block = match.group(2)
        info = match.group(0).split("\n", 1)[0][3:].split()
        if info[:2] == ["sh", "tested"]:
            examples.append(Commands(_command_lines(block), line, page=page.name))
            continue
        if match.group(1) != "http":
            continue
        first = block.split("\n", 1)[0].strip()
        if REQUEST_LINE.match(first):
            assert pending is None, f"{page.name}:{pending.line}: a request without an answer"
            pending = _request(block, line)
        elif STATUS_LINE.match(first):
            assert pending is not None, f"{page.name}:{line}: an answer without a request"
            examples.append(Example(pending, _answer(block, line), page=page.name))
            pending = None
    assert pending is None, f"{page.name}:{pending.line}: a request without an answer"
    return examples


def _command_lines(block: str) -> list[list[str]]:
    """Each ``loyalty ...`` line of a shell block as its words, comments left out."""
    return [
        shlex.split(row, comments=True)[1:]
        for row in block.splitlines()
        if row.startswith("loyalty ")
    ]


def _split(block: str) -> tuple[list[str], str]:
    head, _, body = block.partition("\n\n")
    return head.strip().split("\n"), body.strip()


def _request(block: str, line: int) -> Request:
    head, body = _split(block)
    method, path = REQUEST_LINE.match(head[0].strip()).groups()
    headers = {}
    for header in head[1:]:
        name, _, value = header.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Request(method, path, headers, body, line)


def _answer(block: str, line: int) -> Answer:
    head, body = _split(block)
    status = int(STATUS_LINE.match(head[0].strip()).group(1))
    if any(h.lower().replace(" ", "") == "content-type:text/csv" for h in head[1:]):
        return Answer(status, None, line, csv=body)
    return Answer(status, parse_documented(body) if body else None, line)


def csv_differences(documented: str, actual: str) -> list[str]:
    """Where the CSV ``actual`` differs from ``documented`` (``...`` cells and last line)."""
    want = list(csv.reader(io.StringIO(documented)))
    got = list(csv.reader(io.StringIO(actual)))
    open_ended = bool(want) and want[-1] == ["..."]
    if open_ended:
        want = want[:-1]
    if len(got) < len(want) or (not open_ended and len(got) != len(want)):
        return [f"CSV: documented {len(want)} lines, got {len(got)}"]
    found = []
    for number, (cells, real) in enumerate(zip(want, got, strict=False), start=1):
        same = len(cells) == len(real) and all(
            w in ("...", r) for w, r in zip(cells, real, strict=True)
        )
        if not same:
            found.append(f"CSV line {number}: documented {cells!r}, got {real!r}")
    return found


def parse_documented(text: str) -> Any:
    """JSON in which ``...`` may stand for any value, more keys, or more items."""
    more, anything = json.dumps(MORE), json.dumps(ANY)
    text = re.sub(r"\{\s*\.\.\.\s*\}", f"{{{more}: 1}}", text)
    text = re.sub(r",\s*\.\.\.\s*\}", f", {more}: 1}}", text)
    text = re.sub(r",\s*\.\.\.\s*\]", f", {more}]", text)
    text = re.sub(r":\s*\.\.\.", f": {anything}", text)
    return json.loads(text)


def differences(documented: Any, actual: Any, path: str = "") -> list[str]:
    """Where ``actual`` differs from ``documented`` (empty when it matches)."""
    if documented == ANY:
        return []
    if isinstance(documented, dict):
        if not isinstance(actual, dict):
            return [f"{path or '.'}: documented an object, got {actual!r}"]
        found = []
        open_ended = documented.get(MORE) == 1
        for key, value in documented.items():
            if key == MORE:
                continue
            if key not in actual:
                found.append(f"{path}.{key}: documented but not in the answer")
            else:
                found.extend(differences(value, actual[key], f"{path}.{key}"))
        if not open_ended:
            extra = sorted(set(actual) - set(documented))
            found.extend(f"{path}.{key}: in the answer but not documented" for key in extra)
        return found
    if isinstance(documented, list):
        if not isinstance(actual, list):
            return [f"{path or '.'}: documented a list, got {actual!r}"]
        open_ended = bool(documented) and documented[-1] == MORE
        items = documented[:-1] if open_ended else documented
        if len(actual) < len(items) or (not open_ended and len(actual) != len(items)):
            return [f"{path}: documented {len(items)} items, got {len(actual)}"]
        found = []
        for index, (want, got) in enumerate(zip(items, actual, strict=False)):
            found.extend(differences(want, got, f"{path}[{index}]"))
        return found
    if documented != actual or type(documented) is not type(actual):
        return [f"{path or '.'}: documented {documented!r}, got {actual!r}"]
    return []
