"""The package's layering: lower layers never import higher ones, and no two modules import each other.

Read from the source with `ast`: imports under `if TYPE_CHECKING:` count too (a type is a dependency), and so do
lazy ones, `importlib.import_module("jupyter_ollama.x")` and `__import__(...)` with a name written out.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import jupyter_ollama

PACKAGE = Path(jupyter_ollama.__file__).parent

# Lowest first. A module may import from its own layer and the ones before it.
LAYERS: list[set[str]] = [
    {"errors", "envconfig", "_version", "format", "gojson", "views", "digests"},
    {"gotemplate"},
    {"modelfile"},
    {"templates"},
    {"client"},
    {"store"},
    {"transfers"},
    {"tools"},
    {"runners"},
    {"runner"},
    {"remote"},
    {"scheduler"},
    {"api"},
    {"hub"},
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


def lazy_import(node: ast.Call, name: str, package: str) -> str | None:
    """The module an `import_module(...)` or `__import__(...)` call in module `name` (of `package`) imports, when its
    name is written out (`import_module(".chat", __name__)` is relative to `name`, as importlib reads it); None for
    any other call."""
    func = node.func
    called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
    if called not in ("import_module", "__import__") or not node.args:
        return None
    target = node.args[0]
    if not (isinstance(target, ast.Constant) and isinstance(target.value, str)):
        return None
    if not target.value.startswith("."):
        return target.value
    anchor = node.args[1] if len(node.args) > 1 else next((k.value for k in node.keywords if k.arg == "package"), None)
    if not (isinstance(anchor, ast.Name) and anchor.id in ("__name__", "__package__")):
        return None
    base = (name if anchor.id == "__name__" else package).split(".")
    level = len(target.value) - len(target.value.lstrip("."))
    rest = target.value.lstrip(".")
    parent = base[: len(base) - level + 1]
    return ".".join([*parent, rest] if rest else parent)


def imports(path: Path) -> set[str]:
    """Every jupyter_ollama module `path` imports, absolute."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and (lazy := lazy_import(node, name, package)) and lazy.startswith("jupyter_ollama"):
            found.add(lazy)
        elif isinstance(node, ast.ImportFrom) and node.level:
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


# The notebook side talks to a server only through the client: it never reads the store itself,
# nor borrows the command line's code (what both need is in client/ or modelfile/).
FORBIDDEN = {"kernel": {"store", "cli"}, "widgets": {"store", "cli"}}


def test_kernel_and_widgets_never_import_the_store_or_the_cli():
    edges = graph()
    wrong = sorted(f"{a} -> {b}" for a, banned in FORBIDDEN.items() for b in edges[a] & banned)
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


# Inside a package, its modules in layers of their own, lowest first, by the same rule.
INNER_LAYERS: dict[str, list[set[str]]] = {
    "store": [
        {"names", "owners", "locks", "gguf", "progress"},  # names, who owns a file, locks, GGUF headers, progress lines
        {"blobs", "holds", "manifests"},  # the files: blobs, the holds on them, manifests
        {"model", "aliases", "remote_hosts"},  # a stored model; names answered by models; where remote engines are
        {"store"},  # the store itself
        {"draft", "quantize", "quantize_worker", "create"},  # building a model
        {"declared"},  # remote models an admin declares for everyone
    ],
    "transfers": [
        {"parts", "registry", "hf_files"},  # a download's plan; the registry client; a Hugging Face repo's files
        {"download", "commit"},  # one blob down; a pulled manifest written
        {"pull", "push", "huggingface"},  # whole models
    ],
}


def modules_of(package: str) -> dict[str, Path]:
    return {p.stem: p for p in (PACKAGE / package).glob("*.py") if p.stem != "__init__"}


def test_every_module_of_a_layered_package_has_a_layer():
    for package, layers in INNER_LAYERS.items():
        assert set(modules_of(package)) == set().union(*layers), package


def test_inside_a_layered_package_lower_modules_never_import_higher_ones():
    wrong = []
    for package, layers in INNER_LAYERS.items():
        rank = {name: r for r, layer in enumerate(layers) for name in layer}
        prefix = f"jupyter_ollama.{package}."
        for name, path in modules_of(package).items():
            for target in imports(path):
                inner = target.removeprefix(prefix) if target.startswith(prefix) else None
                if inner in rank and rank[inner] > rank[name]:
                    wrong.append(f"{package}.{name} -> {package}.{inner}")
    assert sorted(wrong) == []


RUNNER_PROGRAM = "jupyter_ollama.runner"


def names_the_runner(path: Path) -> bool:
    return any(isinstance(node, ast.Constant) and isinstance(node.value, str)
               and (node.value == RUNNER_PROGRAM or node.value.startswith(RUNNER_PROGRAM + "."))
               for node in ast.walk(ast.parse(path.read_text())))


def test_the_runner_is_a_leaf_program():
    """Nothing imports runner/: the manager (scheduler/, api/, remote/, hub/...) reaches it through runners/, whose
    process client starts it by its module name, and nothing else names it."""
    assert sorted(source for source, targets in graph().items() if "runner" in targets) == []
    naming = [module_name(p) for p in PACKAGE.rglob("*.py") if top(module_name(p)) != "runner" and names_the_runner(p)]
    assert naming == ["jupyter_ollama.runners.process"]


def lazy(source: str, module: str = "jupyter_ollama.widgets", package: str = "jupyter_ollama.widgets") -> str | None:
    call = ast.parse(source).body[0]
    assert isinstance(call, ast.Expr) and isinstance(call.value, ast.Call)
    return lazy_import(call.value, module, package)


def test_lazy_imports_count_as_imports():
    assert lazy('importlib.import_module("jupyter_ollama.store.store")') == "jupyter_ollama.store.store"
    assert lazy('import_module("jupyter_ollama.runner.llama")') == "jupyter_ollama.runner.llama"
    assert lazy('__import__("jupyter_ollama.cli")') == "jupyter_ollama.cli"
    assert lazy('import_module(".chat", __name__)') == "jupyter_ollama.widgets.chat"
    assert lazy('import_module("..store", package=__name__)') == "jupyter_ollama.store"
    assert lazy('import_module(".gpu", __package__)', "jupyter_ollama.widgets.chat") == "jupyter_ollama.widgets.gpu"
    assert lazy('import_module(".chat", __name__)', "jupyter_ollama.widgets.pull") == "jupyter_ollama.widgets.pull.chat"
    assert lazy("import_module(name)") is None  # not written out: nothing to check
    assert lazy('print("jupyter_ollama.cli")') is None
