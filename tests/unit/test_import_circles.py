"""No import circle in ``loyalty_plugin/``, read from the source with :mod:`ast` (issue 20).

What counts as an import, decided:

* **Counted:** every ``import`` and ``from ... import`` at module level, including those
  inside a module-level ``if`` or ``try``: they run when the module is first imported, and
  a circle among them makes one module see the other half-initialised (an ``ImportError``
  or ``AttributeError`` that depends on which module happens to be imported first).
* **Not counted:** imports inside ``if TYPE_CHECKING:`` (they never run; annotations may
  refer both ways) and imports inside a function body (they run after both modules are
  loaded; the package uses them on purpose to load Flask or a command's module lazily).
  ``importlib.import_module`` with a computed name is not seen either.

``from a.b import c`` is an edge to the module ``a.b.c`` if there is one, else to ``a.b``,
as grimp and import-linter read it. The implicit import of a parent package is no edge:
otherwise every module would form a circle with ``loyalty_plugin/__init__.py``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "loyalty_plugin"


def module_files(root: Path = ROOT, package: str = PACKAGE) -> dict[str, Path]:
    """Every module of ``package`` under ``root``, by dotted name."""
    files = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        files[".".join(parts)] = path
    return files


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def run_time_imports(body: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    """The import statements of a module body that run when it is imported."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If):
            if not _is_type_checking(node):
                yield from run_time_imports(node.body)
            yield from run_time_imports(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody):
                yield from run_time_imports(block)
            for handler in node.handlers:
                yield from run_time_imports(handler.body)


def _imported(
    node: ast.Import | ast.ImportFrom, name: str, *, is_package: bool, files: dict[str, Path]
) -> set[str]:
    """The package modules ``node`` in module ``name`` loads."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names} & files.keys()
    source = node.module or ""
    if node.level:
        here = name.split(".") if is_package else name.split(".")[:-1]
        base = here[: len(here) - node.level + 1]
        source = ".".join(base + ([node.module] if node.module else []))
    # ``from a import b``: the submodule a.b if there is one, else the module a.
    found = {f"{source}.{alias.name}" for alias in node.names}
    return {n if n in files else source for n in found} & files.keys()


def import_graph(files: dict[str, Path]) -> dict[str, set[str]]:
    """Module name to the package modules its run-time imports load."""
    graph = {}
    for name, path in files.items():
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(), str(path))
        edges = set()
        for node in run_time_imports(tree.body):
            edges |= _imported(node, name, is_package=is_package, files=files)
        graph[name] = edges - {name}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while (member := stack.pop()) != node:
                component.append(member)
            if component:
                found.append(sorted([node, *component]))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_circle_in_the_package() -> None:
    """No two modules of ``loyalty_plugin`` import each other, directly or round a ring."""
    graph = import_graph(module_files())
    assert len(graph) > 100
    assert circles(graph) == []


def test_hookspecs_import_nothing_of_the_package_at_run_time() -> None:
    """``hookspecs.py`` loads no package module: its types are imported for type checking."""
    graph = import_graph(module_files())
    assert graph["loyalty_plugin.hookspecs"] == set()


def test_a_circle_is_found(tmp_path: Path) -> None:
    """The check itself sees a circle through ``from . import``, and none under TYPE_CHECKING."""
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg.b import thing\n")
    (package / "b.py").write_text("from . import c\nthing = 1\n")
    (package / "c.py").write_text("try:\n    import pkg.a\nexcept ImportError:\n    pass\n")
    (package / "d.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import e\n"
    )
    (package / "e.py").write_text("from pkg import d\n\ndef f():\n    from pkg import a\n")
    graph = import_graph(module_files(tmp_path, "pkg"))
    assert graph["pkg.e"] == {"pkg.d"}
    assert circles(graph) == [["pkg.a", "pkg.b", "pkg.c"]]
