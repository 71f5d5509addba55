"""The layers of the code base (README, "Layers"), read off the imports of every module.

Each package of the project sits in one layer and may import only the packages of the layers beneath
it, and itself. Function-local imports count as much as those at the top of a module. Only the
project's wiring may name what sits above it: ``portal/urls.py`` and ``portal/settings/``.

A new top-level package fails here until it is given its layer, so the rule covers the next app too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Bottom first. portal is the ground, accounts the base domain, home the page that reads every domain
# app, tooling (demo, benchmarks) on top.
LAYERS: tuple[str, ...] = (
    "portal",
    "accounts",
    "integrations",
    "whitelist",
    "miniprograms",
    "home",
    "demo",
    "benchmarks",
)

# The project's wiring: these modules may name every app.
WIRING: tuple[str, ...] = ("portal.urls", "portal.settings")

# Not part of the shipped code's layering.
NOT_PACKAGES = {"tests", "static", "staticfiles", "templates", "locale", "docs", "deploy", "media"}


@dataclass(frozen=True)
class Edge:
    module: str
    imported: str
    line: int

    @property
    def source_package(self) -> str:
        return self.module.split(".")[0]

    @property
    def target_package(self) -> str:
        return self.imported.split(".")[0]


def project_packages(root: Path = ROOT) -> list[str]:
    return sorted(
        path.parent.name
        for path in root.glob("*/__init__.py")
        if path.parent.name not in NOT_PACKAGES and not path.parent.name.startswith(".")
    )


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(source: str, module: str, *, is_package: bool) -> Iterator[tuple[str, int]]:
    """Every module named by an import anywhere in ``source`` (top level, function-local, in a class)."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                # "from . import x" in a package's __init__ is the package itself
                keep = len(base) - node.level + (1 if is_package else 0)
                prefix = ".".join(base[:keep])
                target = f"{prefix}.{node.module}" if node.module else prefix
            else:
                target = node.module or ""
            yield target, node.lineno


def edges_of(sources: Mapping[str, tuple[str, bool]], packages: Iterable[str]) -> list[Edge]:
    """The imports from one project package into another. ``sources``: module → (source, is_package)."""
    ours = set(packages)
    edges = []
    for module, (source, is_package) in sources.items():
        for imported, line in imports_of(source, module, is_package=is_package):
            edge = Edge(module, imported, line)
            if edge.target_package in ours and edge.target_package != edge.source_package:
                edges.append(edge)
    return edges


def is_wiring(module: str) -> bool:
    return any(module == wiring or module.startswith(wiring + ".") for wiring in WIRING)


def layer_violations(edges: Iterable[Edge], layers: tuple[str, ...] = LAYERS) -> list[str]:
    rank = {package: index for index, package in enumerate(layers)}
    return [
        f"{edge.module} (line {edge.line}) imports {edge.imported}: "
        f"{edge.source_package} sits beneath {edge.target_package}"
        for edge in edges
        if not is_wiring(edge.module) and rank[edge.target_package] >= rank[edge.source_package]
    ]


def package_cycles(edges: Iterable[Edge]) -> list[list[str]]:
    """Cycles of the package graph (the wiring left out), each as the packages along it."""
    graph: dict[str, set[str]] = {}
    for edge in edges:
        if not is_wiring(edge.module):
            graph.setdefault(edge.source_package, set()).add(edge.target_package)
    cycles: list[list[str]] = []
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                cycles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = "done"

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    return cycles


def project_sources(root: Path = ROOT) -> dict[str, tuple[str, bool]]:
    sources = {}
    for package in project_packages(root):
        for path in (root / package).rglob("*.py"):
            sources[module_name(path, root)] = (path.read_text(encoding="utf-8"), path.name == "__init__.py")
    return sources


# --- the rule, on the project -----------------------------------------------------------------------


def test_every_package_has_a_layer():
    unplaced = [package for package in project_packages() if package not in LAYERS]
    assert not unplaced, f"give {unplaced} a place in LAYERS (tests/test_architecture.py) and the README"


def test_no_package_imports_one_above_it_or_beside_it():
    violations = layer_violations(edges_of(project_sources(), LAYERS))
    assert not violations, "layer violations:\n" + "\n".join(violations)


def test_the_package_graph_has_no_cycle():
    cycles = package_cycles(edges_of(project_sources(), LAYERS))
    assert not cycles, "import cycles: " + "; ".join(" → ".join(cycle) for cycle in cycles)


def test_the_ground_names_no_app_outside_its_wiring():
    edges = [e for e in edges_of(project_sources(), LAYERS) if e.source_package == "portal"]
    named = [f"{e.module} imports {e.imported}" for e in edges if not is_wiring(e.module)]
    assert not named


# --- the checker itself, on made-up modules: a back-import must be caught -------------------------


def made_up(**modules: str) -> dict[str, tuple[str, bool]]:
    return {name.replace("__", "."): (source, False) for name, source in modules.items()}


def test_checker__function_local_back_import__is_a_violation_and_a_cycle():
    sources = made_up(
        accounts__services="from portal.errors import Conflict\n",
        whitelist__services="from accounts.models import Organization\n",
        accounts__views=(
            "def view():\n    from whitelist.models import WhitelistEntry\n    return WhitelistEntry\n"
        ),
    )
    edges = edges_of(sources, LAYERS)

    assert layer_violations(edges) == [
        "accounts.views (line 2) imports whitelist.models: accounts sits beneath whitelist"
    ]
    assert package_cycles(edges) == [["accounts", "whitelist", "accounts"]]


def test_checker__relative_and_wiring_imports():
    sources = {
        "whitelist.services.entries": (
            "from ..models import WhitelistEntry\nfrom . import policies\n",
            False,
        ),
        "portal.urls": ("from whitelist import views\n", False),
        "portal.settings.base": ("import demo.apps\n", False),
        "portal.middleware": ("import accounts.models\n", False),
    }
    edges = edges_of(sources, LAYERS)

    # relative imports stay inside the package; the wiring may name apps; the ground elsewhere may not
    assert [(e.module, e.imported) for e in edges] == [
        ("portal.urls", "whitelist"),
        ("portal.settings.base", "demo.apps"),
        ("portal.middleware", "accounts.models"),
    ]
    assert layer_violations(edges) == [
        "portal.middleware (line 1) imports accounts.models: portal sits beneath accounts"
    ]


def test_checker__sideways_import_between_apps_of_one_layer_rank_is_a_violation():
    sources = made_up(whitelist__services="import miniprograms.models\n")
    assert layer_violations(edges_of(sources, LAYERS)) == [
        "whitelist.services (line 1) imports miniprograms.models: whitelist sits beneath miniprograms"
    ]
