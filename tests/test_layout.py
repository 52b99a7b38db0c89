"""The layout is the architecture: no import cycles between salesml's modules, old module paths
still resolve to the moved modules."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import salesml

PACKAGE = Path(salesml.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """Every salesml module a file imports, at module level or inside functions.

    ``from salesml.x import y`` counts as importing ``salesml.x.y`` when that is a module, else
    ``salesml.x``. Package ``__init__`` files that only re-export are left out of the graph.
    """
    found: set[str] = set()
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module for a in node.names]
        else:
            continue
        found.update(n for n in names if n in modules)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    inits = {name for name, p in modules.items() if p.name == "__init__.py"}
    return {name: _imports(p, modules) - inits for name, p in modules.items() if name not in inits}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_module_imports_one_that_imports_it_back():
    assert _cycles(_graph()) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_only_packages_and_the_entry_points_sit_at_the_top():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert top == ["__init__.py", "_aliases.py", "cli.py", "demo.py"]


@pytest.mark.parametrize(
    "old, new",
    [
        ("salesml.segments", "salesml.customers.segments"),
        ("salesml.snapshots", "salesml.customers.snapshots"),
        ("salesml.spark", "salesml.scoring.spark"),
        ("salesml.batch", "salesml.scoring.batch"),
        ("salesml.streams", "salesml.scoring.streams"),
        ("salesml.flow", "salesml.core.flow"),
        ("salesml.scoring", "salesml.scoring"),
    ],
)
def test_old_module_paths_resolve_to_the_moved_modules(old, new):
    assert importlib.import_module(old) is importlib.import_module(new)
