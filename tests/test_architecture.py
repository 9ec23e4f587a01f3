"""The import direction of ARCHITECTURE.md: lower layers never import higher ones; nothing imports
the CLI; no pickle. Read from the source with ``ast``, so a violation fails here, not in review."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "deepscope"

# module group -> the groups it must never import
FORBIDDEN = {
    "building blocks": {"graph", "network", "layers", "models", "callbacks", "diagnostics", "runs", "sweep",
                        "introspect", "brain", "cli", "demo"},
    "graph and layers": {"models", "callbacks", "diagnostics", "runs", "sweep", "introspect", "brain", "cli", "demo"},
    "models and callbacks": {"sweep", "introspect", "brain", "cli", "demo"},
    "runs": {"sweep", "introspect", "brain", "cli", "demo"},
    "sweep and introspect": {"cli", "demo"},
}
GROUPS = {
    "building blocks": {"activations", "initializations", "losses", "objectives", "metrics", "optimizers", "regularizers",
                        "data_utils", "data_preprocessing", "data_augmentation", "datasets", "_registry",
                        "_checks", "_io", "utils"},
    "graph and layers": {"graph", "network", "layers"},
    "models and callbacks": {"models", "callbacks", "diagnostics"},
    "runs": {"runs"},
    "sweep and introspect": {"sweep", "introspect", "brain"},
}


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


SOURCES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_flow_one_way(path):
    group = group_of(path)
    if group is None:
        return
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
