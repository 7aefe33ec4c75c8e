"""The house rules, checked on the import graph: layers, no circles, fronts through the services.

Layers, lowest first: ``core`` < ``ingest`` < ``models`` < ``services`` < the fronts (``api``,
``cli``, ``web``). A module may import its own layer and the ones below, never above; the fronts
never import each other, but for one edge: ``api.main`` mounts the web app (``web.app``).
Imports guarded by ``if TYPE_CHECKING:`` are types only and do not count; imports inside
functions do (a lazy import is still a dependency).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = {"core": 0, "ingest": 1, "models": 2, "services": 3, "api": 4, "cli": 4, "web": 4}
FRONTS = ("api", "cli", "web")
# The one edge between fronts: the HTTP app mounts the web app's pages (web.app.install).
FRONT_EDGES_ALLOWED = {("api.main", "web.app")}
# The fronts' wiring: the only modules of api/ and cli/ that build engines and sessions.
WIRING = {"api.deps", "api.main", "cli.context"}
# What a front may import from models/: the vocabulary (enums, errors), not tables or sessions.
FRONT_MAY_USE_FROM_MODELS = {"models.enums", "models.errors"}
STORAGE_PACKAGES = ("sqlalchemy", "sqlmodel", "alembic", "psycopg")
MAX_LINES = 550
LONG_FILES_ALLOWED = ("models/migrations/versions/", "bench/", "samples/generate.py")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    found = {}
    for package in LAYERS:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations/versions" not in path.as_posix():
                found[module_name(path)] = path
    return found


MODULES = project_modules()


def _type_checking_block(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def imports_of(path: Path) -> Iterator[str]:
    """Every module this file imports at run time (module level or inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if _type_checking_block(node):
            skipped.update(id(child) for child in ast.walk(node))
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join([*parts[: len(parts) - node.level + 1], base]).strip(".")
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                yield candidate if candidate in MODULES else base


def project_imports(path: Path) -> set[str]:
    """The project modules this file imports (a submodule when it names one, else its package)."""
    found = set()
    for name in imports_of(path):
        while name and name not in MODULES:
            name = name.rpartition(".")[0]
        if name:
            found.add(name)
    return found


GRAPH = {name: project_imports(path) - {name} for name, path in MODULES.items()}


def layer(module: str) -> int:
    return LAYERS[module.split(".")[0]]


def test_the_layers_are_all_there() -> None:
    assert {m.split(".")[0] for m in MODULES} == set(LAYERS)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_a_module_imports_only_its_own_layer_and_the_ones_below(module: str) -> None:
    upward = sorted(dep for dep in GRAPH[module] if layer(dep) > layer(module))
    assert not upward, f"{module} reaches up to {upward}"


def test_the_fronts_never_import_each_other() -> None:
    crossing = sorted(
        (m, dep)
        for m, deps in GRAPH.items()
        for dep in deps
        if m.split(".")[0] in FRONTS and dep.split(".")[0] in FRONTS and dep.split(".")[0] != m.split(".")[0]
    )
    assert [edge for edge in crossing if edge not in FRONT_EDGES_ALLOWED] == []


def test_the_allowed_front_edge_is_still_there() -> None:
    """The exception above is for ``api.main`` mounting the web app, and for nothing else."""
    assert {(m, dep) for m, deps in GRAPH.items() for dep in deps if (m, dep) in FRONT_EDGES_ALLOWED} == (
        FRONT_EDGES_ALLOWED
    )


def _cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for dep in GRAPH[node]:
            if dep not in index:
                visit(dep)
                low[node] = min(low[node], low[dep])
            elif dep in on_stack:
                low[node] = min(low[node], index[dep])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(GRAPH):
        if node not in index:
            visit(node)
    return found


def test_the_import_graph_has_no_circle() -> None:
    assert _cycles() == []


FRONT_MODULES = sorted(m for m in MODULES if m.split(".")[0] in FRONTS and m not in WIRING)


@pytest.mark.parametrize("module", FRONT_MODULES)
def test_a_front_reaches_tables_and_sessions_only_through_the_services(module: str) -> None:
    """Routes and commands call services; only the wiring builds engines and sessions."""
    reached = set(imports_of(MODULES[module]))
    storage = sorted(n for n in reached if n.split(".")[0] in STORAGE_PACKAGES)
    models = sorted(n for n in GRAPH[module] if n.startswith("models") and n not in FRONT_MAY_USE_FROM_MODELS)
    assert not storage, f"{module} imports {storage}"
    assert not models, f"{module} imports {models}"


def test_no_module_is_over_the_length_a_reader_can_hold() -> None:
    long = []
    for path in sorted([*ROOT.glob("*/**/*.py")]):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith((".venv/", "var/", "build/")) or rel.startswith(LONG_FILES_ALLOWED):
            continue
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES:
            long.append(f"{rel}: {lines}")
    assert not long, long
