"""The layers the architecture promises (docs/architecture.md): `inference/` and
`retrieval/` import nothing from `psyconsole`, `retrieval/` nothing from `inference`,
and no two modules import each other."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.factories import ROOT

PACKAGES = ("psyconsole", "inference", "retrieval")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(tree: ast.AST, modules: dict[str, Path]) -> set[str]:
    """The project modules an import statement names: `from a.b import c` names `a.b.c`
    when that is a module, else `a.b`."""
    named = set()
    for node in ast.walk(tree) if not isinstance(tree, list) else tree:
        if isinstance(node, ast.Import):
            named |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                named.add(sub if sub in modules else node.module)
    return {name for name in named if name in modules}


def _imports_that_count(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Every import of a module, at the top or inside a function, except what a Celery
    task imports inside its function: that is the recipe (HackSoft's) by which services
    queue tasks without a cycle, so it is the one edge allowed to point back."""
    tree = ast.parse(path.read_text())
    if name.rsplit(".", 1)[-1] == "tasks":
        return _imports([n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))],
                        modules)
    return _imports(tree, modules)


def test_inference_and_retrieval_import_nothing_from_psyconsole():
    modules = _modules()
    offenders = {name: sorted(n for n in _imports(ast.parse(path.read_text()), modules)
                              if n.startswith("psyconsole"))
                 for name, path in modules.items() if not name.startswith("psyconsole")}
    assert {name: found for name, found in offenders.items() if found} == {}


def test_retrieval_imports_nothing_from_inference():
    modules = _modules()
    offenders = {name: sorted(n for n in _imports(ast.parse(path.read_text()), modules)
                              if n.startswith("inference"))
                 for name, path in modules.items() if name.startswith("retrieval")}
    assert {name: found for name, found in offenders.items() if found} == {}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for other in graph[module]:
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            component = []
            while True:
                other = stack.pop()
                component.append(other)
                if other == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in graph:
        if module not in index:
            visit(module)
    return found


def test_no_modules_import_each_other():
    """Not even inside functions: an import inside a function that closes a cycle is a
    cycle deferred, and says the two modules are one."""
    modules = _modules()
    graph = {name: _imports_that_count(name, path, modules) - {name}
             for name, path in modules.items()}
    assert _cycles(graph) == []
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
