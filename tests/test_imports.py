"""The shape of the code: ``webapp → models ← workers`` and no import cycle inside a package.

Every import counts, those under ``TYPE_CHECKING`` and inside functions included: a cycle that
only type hints or a late import hide is still a circle a reader has to walk around.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("models", "workers", "webapp")


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def _graph() -> dict[str, set[str]]:
    modules = {_module(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*up, base] if base else up)
                targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
            else:
                continue
            found.update(t for t in targets if t in modules and t != name)
        graph[name] = found
    return graph


def _cycle(graph: dict[str, set[str]], nodes: set[str]) -> list[str] | None:
    """One import cycle among ``nodes`` (its modules in order), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node] & nodes):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(nodes):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_models_import_neither_webapp_nor_workers() -> None:
    graph = _graph()
    wrong = {
        (name, dep)
        for name, deps in graph.items()
        if name.startswith("models")
        for dep in deps
        if dep.split(".")[0] in ("webapp", "workers")
    }
    assert not wrong


@pytest.mark.parametrize("package", ["models", "workers"])
def test_no_import_cycle(package: str) -> None:
    graph = _graph()
    nodes = {name for name in graph if name.split(".")[0] == package and "." in name}
    assert _cycle(graph, nodes) is None


@pytest.mark.parametrize("module", ["webapp.metrics", "webapp.api.queue"])
def test_a_webapp_module_imports_on_its_own(module: str) -> None:
    """``webapp.metrics`` and ``webapp.api`` imported each other (through ``queue_figures``, now in
    ``webapp.stream_figures``): importing the metrics first failed half-way."""
    done = subprocess.run(
        [sys.executable, "-c", f"import {module}"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
