"""Every HTTP example of the docs, sent as printed; the answer must be the documented one.

Each page runs on a fresh database of every backend, its ``sh tested`` blocks through the
``loyalty`` command and its requests through the app, in the order the page gives them.
A webhook example is signed with the secret its page's commands printed, and an
``Authorization`` header carries the key they printed: that is all the test adds.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from loyalty_plugin.cli import main
from loyalty_plugin.domain.signatures import signature_headers
from tests.docs.examples import (
    Commands,
    Example,
    Request,
    csv_differences,
    differences,
    read_examples,
)

DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGES = ("integration.md", "api.md", "programs.md")


@pytest.mark.parametrize("page", PAGES)
def test_the_examples_answer_as_documented(page: str, app: Flask) -> None:
    steps = read_examples(DOCS / page)
    assert sum(isinstance(step, Example) for step in steps) >= 5, "too few examples found"
    runner, client = app.test_cli_runner(), app.test_client()
    tokens: dict[str, str] = {}
    problems: list[str] = []
    for step in steps:
        if isinstance(step, Commands):
            for words in step.lines:
                result = runner.invoke(main, words)
                assert result.exit_code == 0, f"{page}:{step.line}: {words}\n{result.output}"
                tokens.update(_printed_tokens(result.output))
            continue
        response = _send(client, step.request, tokens)
        problems.extend(_compare(step, response))
    assert not problems, "\n\n".join(problems)


def _printed_tokens(output: str) -> dict[str, str]:
    """The webhook secret and API key a command printed, if any."""
    found = {}
    if secret := re.search(r"whsec_[A-Za-z0-9+/=]+", output):
        found["secret"] = secret.group(0)
    if keys := re.findall(r"\blk_[A-Za-z0-9_-]+", output):
        found["key"] = max(keys, key=len)  # the key itself, not the prefix printed before it
    return found


def _send(client: Any, request: Request, tokens: dict[str, str]) -> Any:
    headers = dict(request.headers)
    body = request.body.encode()
    if "authorization" in headers:
        headers["authorization"] = f"Bearer {tokens['key']}"
    if request.path.endswith("/webhooks"):
        msg_id = headers.get("webhook-id", f"doc-example-{request.line}")
        headers |= signature_headers(
            [tokens["secret"]], msg_id=msg_id, timestamp=int(time.time()), body=body
        )
    if body and "content-type" not in headers:
        headers["content-type"] = "application/json"
    return client.open(request.path, method=request.method, data=body, headers=headers)


def _compare(example: Example, response: Any) -> list[str]:
    answer = example.answer
    actual = response.get_json(silent=True)
    found = []
    if response.status_code != answer.status:
        found.append(f"status: documented {answer.status}, got {response.status_code}")
    if answer.body is not None:
        found.extend(differences(answer.body, actual))
    if answer.csv is not None:
        if response.mimetype != "text/csv":
            found.append(f"content type: documented text/csv, got {response.mimetype}")
        actual = response.get_data(as_text=True)
        found.extend(csv_differences(answer.csv, actual))
    if not found:
        return []
    shown = actual if isinstance(actual, str) else json.dumps(actual, indent=1, sort_keys=True)
    return [
        f"{example.where()} (answer at line {answer.line}):\n  "
        + "\n  ".join(found)
        + f"\nthe real answer:\n{shown}"
    ]
