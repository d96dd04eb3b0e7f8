"""The reader of documented examples: what ``...`` allows and what it does not."""

from __future__ import annotations

from pathlib import Path

from tests.docs.examples import (
    Commands,
    Example,
    csv_differences,
    differences,
    parse_documented,
    read_examples,
)


def test_a_closed_object_must_have_exactly_its_keys() -> None:
    documented = parse_documented('{"status": "processed", "event_id": ...}')
    assert differences(documented, {"status": "processed", "event_id": 9}) == []
    assert differences(documented, {"status": "processed"}) == [
        ".event_id: documented but not in the answer"
    ]
    assert differences(documented, {"status": "processed", "event_id": 9, "entry_id": 3}) == [
        ".entry_id: in the answer but not documented"
    ]


def test_an_open_object_may_have_more_keys_but_not_other_values() -> None:
    documented = parse_documented('{"id": 7, "status": "held", ...}')
    assert differences(documented, {"id": 7, "status": "held", "points": 1}) == []
    assert differences(documented, {"id": 7, "status": "released"}) == [
        ".status: documented 'held', got 'released'"
    ]


def test_lists_and_types_are_compared() -> None:
    assert differences(parse_documented('{"a": [1, ...]}'), {"a": [1, 2, 3]}) == []
    assert differences(parse_documented('{"a": [1]}'), {"a": [1, 2]}) == [
        ".a: documented 1 items, got 2"
    ]
    assert differences(parse_documented('{"p": "10"}'), {"p": 10}) == [
        ".p: documented '10', got 10"
    ]


def test_a_page_is_read_in_order(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "Set up:\n\n```sh tested\nloyalty merchants create shop --name Shop  # a comment\n```\n\n"
        "```sh\nloyalty not run\n```\n\n"
        '```http\nPOST /loyalty/webhooks HTTP/1.1\nwebhook-id: w1\n\n{"type": "x"}\n```\n\n'
        'Answer:\n\n```http\nHTTP/1.1 202 Accepted\n\n{"status": "queued", ...}\n```\n'
    )
    commands, example = read_examples(page)
    assert isinstance(commands, Commands)
    assert commands.lines == [["merchants", "create", "shop", "--name", "Shop"]]
    assert isinstance(example, Example)
    assert (example.request.method, example.request.path) == ("POST", "/loyalty/webhooks")
    assert example.request.headers == {"webhook-id": "w1"}
    assert (example.answer.status, example.where()) == (202, "page.md:11")


def test_a_csv_answer_is_compared_line_by_line() -> None:
    documented = "id,kind\n...,earn\n..."
    assert csv_differences(documented, "id,kind\r\n7,earn\r\n6,redeem\r\n") == []
    assert csv_differences(documented, "id,kind\r\n7,redeem\r\n") == [
        "CSV line 2: documented ['...', 'earn'], got ['7', 'redeem']"
    ]
    assert csv_differences("id,kind\n1,earn", "id,kind\r\n1,earn\r\n2,earn\r\n") == [
        "CSV: documented 2 lines, got 3"
    ]
