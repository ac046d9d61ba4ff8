"""Imports run one way: each room imports only the floors below it (README, Layout), nothing of
the program imports Pulumi below components/, and no module imports itself round a circle."""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Final

from settings.stack_file import ROOT

# Each room, and the rooms it may import. The program's floors: services.py, settings/,
# configs/, components/, then the programs that wire them (__main__.py, content/). The tools
# beside it read the pure floors, never components/ (a URL or an expectation comes from the
# settings and the builders, not from the Pulumi layer).
FLOORS: Final[Mapping[str, frozenset[str]]] = {
    "services": frozenset(),
    "settings": frozenset({"services"}),
    "configs": frozenset({"services", "settings"}),
    "components": frozenset({"services", "settings", "configs"}),
    "__main__": frozenset({"services", "settings", "configs", "components"}),
    "content": frozenset({"services", "settings", "configs", "components"}),
    "toolchain": frozenset({"services", "settings"}),
    "ops": frozenset({"services", "settings", "configs", "toolchain"}),
    "review": frozenset({"services", "settings", "configs", "toolchain"}),
    "references": frozenset(),
    "policy": frozenset(),
}
# The rooms that run without Pulumi (review/ runs the program under Pulumi's mock runtime), and
# the one module among them that reads pulumi.Config, which only the two programs import.
PULUMI_FREE: Final = frozenset({"services", "settings", "configs", "ops"})
PULUMI_READER: Final = "settings/pulumi_config.py"
SKIPPED: Final = (".venv", "tests", "build")


def _modules() -> dict[str, Path]:
    """Every module of the project by dotted name (a package by its own name)."""
    found = {}
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT)
        if any(part in SKIPPED for part in relative.parts) or relative.parts[0].startswith("."):
            continue
        parts = relative.with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _runtime_imports(tree: ast.Module) -> Iterator[str]:
    """Modules imported at run time: not under `if TYPE_CHECKING:`."""
    def walk(nodes: list[ast.stmt]) -> Iterator[str]:
        for node in nodes:
            if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
                yield from walk(node.orelse)
                continue
            if isinstance(node, ast.Import):
                yield from (alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                yield node.module
                yield from (f"{node.module}.{alias.name}" for alias in node.names)
            for field in ("body", "orelse", "finalbody", "handlers"):
                children = getattr(node, field, None)
                if isinstance(children, list):
                    yield from walk([child for child in children if isinstance(child, ast.stmt)])
                    yield from (stmt for handler in children
                                if isinstance(handler, ast.ExceptHandler)
                                for stmt in walk(handler.body))
    return walk(tree.body)


def _graph() -> dict[str, set[str]]:
    """Each project module and the project modules it imports (a name imported from a package
    that is no module is the package)."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        graph[name] = {imported for imported in _runtime_imports(ast.parse(path.read_text()))
                       if imported in modules and imported != name
                       and not name.startswith(f"{imported}.")}
    return graph


def _room(module: str) -> str:
    return module.split(".", maxsplit=1)[0]


def test_each_room_imports_only_the_floors_below_it() -> None:
    climbing = sorted(f"{module} imports {imported}"
                      for module, imports in _graph().items() for imported in imports
                      if _room(imported) != _room(module)
                      and _room(imported) not in FLOORS[_room(module)])
    assert climbing == []


def test_no_module_imports_itself_round_a_circle() -> None:
    graph = _graph()
    circles = []
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for imported in sorted(graph[module]):
            if state.get(imported) == "open":
                circles.append(" -> ".join([*path[path.index(imported):], imported]))
            elif imported not in state:
                visit(imported, [*path, imported])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert circles == []


def test_the_pure_floors_run_without_pulumi() -> None:
    importing = sorted(
        str(path.relative_to(ROOT)) for name, path in _modules().items()
        if _room(name) in PULUMI_FREE and str(path.relative_to(ROOT)) != PULUMI_READER
        and any(_room(imported).startswith("pulumi")
                for imported in _runtime_imports(ast.parse(path.read_text()))))
    assert importing == []


def test_the_layer_check_sees_a_climbing_import() -> None:
    # The checks read the tree: a graph that has the edge it forbids must show it.
    graph = _graph()
    assert "components.service" in graph["components.prometheus"]
    assert all(_room(module) in FLOORS for module in graph)
