"""The docs keep up with the code: every setting and every ``loyalty`` command is documented.

The docs are read when the tests run, not when they are collected, so a page added by any
change (``docs/integration.md``, ``docs/api.md``...) counts as soon as it exists.
"""

from __future__ import annotations

import configparser
import re
import tomllib
from pathlib import Path

import click
import pytest

from loyalty_plugin.cli import main
from loyalty_plugin.config import DEFAULTS

DOCS = Path(__file__).resolve().parent.parent / "docs"
CONFIGURATION = DOCS / "configuration.md"


def _commands(group: click.Group, path: tuple[str, ...] = ("loyalty",)) -> list[str]:
    """Every command and sub-command under ``group``, as the words typed to run it."""
    found: list[str] = []
    for name, command in sorted(group.commands.items()):
        if command.hidden:
            continue
        words = (*path, name)
        found.append(" ".join(words))
        if isinstance(command, click.Group):
            found.extend(_commands(command, words))
    return found


def _all_docs() -> str:
    return "\n".join(page.read_text(encoding="utf-8") for page in sorted(DOCS.glob("*.md")))


def _configuration_rows() -> set[str]:
    """The keys named in the first cell of a table row of ``docs/configuration.md``."""
    text = CONFIGURATION.read_text(encoding="utf-8")
    return set(re.findall(r"^\|\s*`([A-Z][A-Z0-9_]*)`\s*\|", text, flags=re.MULTILINE))


@pytest.mark.parametrize("key", sorted(DEFAULTS))
def test_setting_is_documented(key: str) -> None:
    """Every key of ``config.DEFAULTS`` has a row in the table of docs/configuration.md."""
    documented = key in _configuration_rows()
    assert documented, f"add a `{key}` row to the table in docs/configuration.md"


def test_documented_settings_exist() -> None:
    """The configuration table names no key that ``config.DEFAULTS`` does not have."""
    stale = _configuration_rows() - DEFAULTS.keys()
    assert not stale, f"docs/configuration.md documents unknown keys: {sorted(stale)}"


def test_the_cli_has_commands() -> None:
    """The walk below finds the commands (so the parametrised test cannot pass empty)."""
    assert {"loyalty db upgrade", "loyalty ledger verify"} <= set(_commands(main))


def _operations_table_commands() -> set[str]:
    """The commands that start a row of the table in docs/operations.md (options left out)."""
    text = (DOCS / "operations.md").read_text(encoding="utf-8")
    cells = re.findall(r"^\|\s*`(loyalty[^`]*)`\s*\|", text, flags=re.MULTILINE)
    return {" ".join(w for w in cell.split() if re.fullmatch(r"[a-z][a-z-]*", w)) for cell in cells}


def _leaves(group: click.Group) -> list[str]:
    return [
        command
        for command in _commands(group)
        if not isinstance(_resolve(group, command.split()[1:]), click.Group)
    ]


def _resolve(group: click.Group, words: list[str]) -> click.Command:
    command: click.Command = group
    for word in words:
        command = command.commands[word]  # type: ignore[attr-defined]
    return command


@pytest.mark.parametrize("command", _leaves(main))
def test_command_has_a_row_in_operations(command: str) -> None:
    """docs/operations.md's command table has a row for every ``loyalty`` command."""
    assert command in _operations_table_commands(), f"add `{command}` to docs/operations.md"


@pytest.mark.parametrize("command", _commands(main))
def test_command_is_documented(command: str) -> None:
    """Every ``loyalty`` command and sub-command is mentioned somewhere in docs/*.md."""
    words = r"\s+".join(re.escape(word) for word in command.split())
    pattern = rf"(?<![\w-]){words}(?![\w-])"
    mentioned = re.search(pattern, _all_docs()) is not None
    assert mentioned, f"mention `{command}` in a page of docs/"


CONFIGURATION_FILES = ("pyproject.toml", "setup.cfg", "Makefile")


@pytest.mark.parametrize("name", CONFIGURATION_FILES)
def test_each_configuration_file_is_in_the_map(name: str) -> None:
    """docs/development.md says what each top-level configuration file holds."""
    root = DOCS.parent
    assert (root / name).is_file()
    table = (DOCS / "development.md").read_text(encoding="utf-8").split("## Which file")[1]
    assert f"| `{name}` |" in table.split("\n## ")[0]


def test_setup_cfg_agrees_with_ruff_on_line_length() -> None:
    """setup.cfg's flake8/pycodestyle sections follow pyproject.toml's ruff line length."""
    root = DOCS.parent
    ruff = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["ruff"]
    parser = configparser.ConfigParser()
    parser.read(root / "setup.cfg")
    for section in ("flake8", "pycodestyle"):
        assert parser.getint(section, "max-line-length") == ruff["line-length"]
    assert parser.get("codespell", "skip")
