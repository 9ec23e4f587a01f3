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
                         "_registry", "_checks", "_io", "_version", "utils", "text_utils", "image_utils", "estimators"}),
    ("graph and layers", {"graph", "network", "layers", "variables"}),
    ("models and callbacks", {"models", "callbacks", "diagnostics"}),
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
