"""The import direction of ARCHITECTURE.md: lower layers never import higher ones; nothing imports
the CLI; no pickle. Read from the source with ``ast``, so a violation fails here, not in review."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "deepscope"

# The layers of docs/ARCHITECTURE.md, lowest first. A module may import its own layer and the ones
# below it, never one above: building blocks -> graph and layers -> models and callbacks (training,
# and writing the run folder) -> runs (reading, comparing, plotting, reporting run folders) -> sweep,
# introspect, brain -> the package's front (``__init__``, the CLI, the demo).
LAYERS = [
    ("building blocks", {"activations", "initializations", "losses", "objectives", "metrics", "optimizers",
                         "regularizers", "data_utils", "data_preprocessing", "data_augmentation", "datasets",
                         "_registry", "_checks", "_io", "_html", "_version", "utils", "text_utils", "image_utils", "estimators",
                         "_unsupported", "_proximal", "image_files", "distances", "tf_collections", "tflearn_utils", "data_flow"}),
    ("graph and layers", {"graph", "network", "layers", "variables", "config"}),
    ("models and callbacks", {"models", "callbacks", "diagnostics", "helpers", "summaries"}),
    ("runs", {"runs"}),
    ("sweep and introspect", {"sweep", "introspect", "brain"}),
    ("front", {"__init__", "__main__", "cli", "demo"}),
]
GROUPS = dict(LAYERS)
FORBIDDEN = {name: set().union(*(members for _, members in LAYERS[i + 1:])) for i, (name, _) in enumerate(LAYERS)}


def deepscope_imports(path: Path) -> set[str]:
    """The top-level deepscope modules that ``path`` imports (absolute or relative)."""
    tree = ast.parse(path.read_text())
    depth = len(path.relative_to(PACKAGE).parts) - 1  # folders below deepscope/
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module and node.module.startswith("deepscope."):
                found.add(node.module.split(".")[1])
            elif node.level > 0:
                up = node.level - 1  # levels above the file's own package
                if up > depth:
                    continue
                parts = list(path.relative_to(PACKAGE).parts[:-1])[: depth - up]
                target = parts + (node.module.split(".") if node.module else [])
                if target:
                    found.add(target[0])
                else:  # "from .. import x, y" at the package top
                    found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("deepscope."):
                    found.add(alias.name.split(".")[1])
    return found


def group_of(path: Path) -> str | None:
    top = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
    return next((g for g, members in GROUPS.items() if top in members), None)


def test_every_module_is_in_a_layer():
    homeless = [str(p.relative_to(PACKAGE)) for p in SOURCES if group_of(p) is None]
    assert not homeless, f"modules in no layer of docs/ARCHITECTURE.md: {homeless}"


def test_nothing_reads_the_environment_to_decide_a_fit_or_a_study():
    for folder in ("models", "sweep"):
        for path in (PACKAGE / folder).rglob("*.py"):
            text = path.read_text()
            assert "os.environ[" not in text and "DEEPSCOPE_RESUME" not in text, path


SOURCES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_flow_one_way(path):
    group = group_of(path)
    own = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
    bad = (deepscope_imports(path) - {own}) & FORBIDDEN[group]
    assert not bad, f"{path.relative_to(PACKAGE)} ({group}) imports {sorted(bad)}"


def test_nothing_imports_the_cli_and_nothing_unpickles():
    for path in SOURCES:
        if path.relative_to(PACKAGE).parts[0] in ("cli", "__main__.py"):
            continue
        assert "cli" not in deepscope_imports(path), path
        text = path.read_text()
        assert "pickle.load" not in text, path
        for line in text.splitlines():
            if "torch.load(" in line:
                assert "weights_only=True" in line, (path, line)


def test_the_parser_sees_relative_imports():
    assert {"graph", "activations"} <= deepscope_imports(PACKAGE / "layers" / "core.py")


# -- no import circles, function-level imports included ------------------------------------------
def _module_name(path: Path) -> str:
    parts = ("deepscope",) + path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _resolve(name: str) -> str | None:
    """The deepscope module (file) ``name`` refers to: itself, or the package holding the attribute."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def module_imports(path: Path) -> set[str]:
    """Every deepscope module ``path`` imports, anywhere in the file (inside functions too), as dotted
    names; a package's own ``__init__`` is left out (importing a submodule runs it first, always)."""
    me = _module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        targets = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names if alias.name.startswith("deepscope")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + (node.module.split(".") if node.module else []))
            elif node.module and node.module.startswith("deepscope"):
                module = node.module
            else:
                continue
            targets = [f"{module}.{alias.name}" for alias in node.names] + [module]
        for target in targets:
            resolved = _resolve(target)
            if resolved and resolved != me and not me.startswith(resolved + ".") and resolved != "deepscope":
                found.add(resolved)
    return found


def import_circles(graph: dict) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, circles, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return circles


def test_no_import_circles_even_inside_functions():
    graph = {name: module_imports(path) for name, path in MODULES.items()}
    assert "deepscope.sweep.records" in graph["deepscope.sweep.study"]  # (the parser sees relative imports)
    circles = import_circles(graph)
    assert not circles, "import circles (a function-level import counts too): " + "; ".join(
        " <-> ".join(c) for c in circles)


def test_the_circle_finder_finds_a_circle():
    assert import_circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert import_circles({"a": {"b"}, "b": set()}) == []
