"""The layout keeps its promises: no module imports its importer, at any depth of the code.

import-linter's layer contracts (pyproject.toml) keep the floors; this test also catches a
circle through an import written inside a function, which is how circles hide.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

APPS = ("medassist", "imaging", "diagnosis", "finetune")


def _modules() -> dict[str, Path]:
    found = {}
    for app in APPS:
        for path in Path(ROOT, app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            # The module itself, or the package a name comes from.
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def test_no_module_imports_a_module_that_imports_it_back() -> None:
    modules = _modules()
    graph = {name: _imports(name, path, set(modules)) for name, path in modules.items()}
    circles = []
    for start in graph:
        # Every module reachable from start; a circle is start reached again.
        seen, stack, parent = {start}, [start], {start: ""}
        while stack:
            here = stack.pop()
            for there in graph[here]:
                if there == start and not here.startswith(start + ".") and here != start:
                    chain, step = [start], here
                    while step != start:
                        chain.insert(1, step)
                        step = parent[step]
                    circles.append(" -> ".join([*chain, start]))
                elif there not in seen:
                    seen.add(there)
                    parent[there] = here
                    stack.append(there)
    assert not circles, "import circles:\n" + "\n".join(sorted(set(circles))[:20])
