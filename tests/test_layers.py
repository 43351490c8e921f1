"""The package's layering: lower layers never import higher ones, and no two modules import each other.

Read from the source with `ast` (imports under `if TYPE_CHECKING:` count too: a type is a dependency).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import jupyter_ollama

PACKAGE = Path(jupyter_ollama.__file__).parent

# Lowest first. A module may import from its own layer and the ones before it.
LAYERS: list[set[str]] = [
    {"errors", "envconfig", "_version", "format", "gojson", "views"},
    {"gotemplate"},
    {"templates"},
    {"store"},
    {"tools"},
    {"runner"},
    {"remote"},
    {"scheduler"},
    {"api"},
    {"client"},
    {"server"},
    {"cli"},
    {"discovery"},
    {"widgets"},
    {"kernel"},
    {"demo", "extension", "jupyter_ai", "__init__", "__main__"},
]
RANK = {name: rank for rank, layer in enumerate(LAYERS) for name in layer}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def top(module: str) -> str:
    """The first component under the package: `jupyter_ollama.store.gguf` -> `store`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imports(path: Path) -> set[str]:
    """Every jupyter_ollama module `path` imports, absolute."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            if node.module:
                found.add(".".join([*base, node.module]))
            else:
                found.update(".".join([*base, alias.name]) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("jupyter_ollama"):
            found.add(node.module or "")
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("jupyter_ollama"))
    return found


def is_module(name: str) -> bool:
    path = PACKAGE.parent / name.replace(".", "/")
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = defaultdict(set)
    for path in PACKAGE.rglob("*.py"):
        source = top(module_name(path))
        edges[source].update(t for t in map(top, imports(path)) if t != source)
    return edges


def test_every_top_level_module_has_a_layer():
    names = {top(module_name(p)) for p in PACKAGE.rglob("*.py")}
    assert names - RANK.keys() == set()


def test_lower_layers_never_import_higher_ones():
    wrong = sorted(f"{a} -> {b}" for a, targets in graph().items() for b in targets if RANK[b] > RANK[a])
    assert wrong == []


def test_no_import_cycles_between_modules():
    edges: dict[str, set[str]] = defaultdict(set)
    for path in PACKAGE.rglob("*.py"):
        edges[module_name(path)].update(
            m for m in imports(path) if m != module_name(path) and is_module(m))
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> list[str] | None:
        state[node] = 1
        for target in sorted(edges[node]):
            if state.get(target) == 1:
                return [*trail, node, target]
            if target not in state and (cycle := visit(target, [*trail, node])):
                return cycle
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state:
            cycle = visit(start, [])
            assert cycle is None, " -> ".join(cycle or [])
