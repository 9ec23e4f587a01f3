"""How many of TFlearn 0.5's public names deepscope has, looked up through the ``tflearn`` alias.

A module's public names: the functions and classes its file defines (no leading underscore), and for a
package (``tflearn``, ``tflearn.layers``, ``tflearn.helpers``, ...) the names its ``__init__.py``
imports. ``DNN``'s public methods are counted too. Two groups are reported:

- **user API**: the modules a TFlearn program imports from (issue 26's 13 modules: ``tflearn``,
  layers, helpers, models, datasets, activations, objectives, optimizers, metrics, initializations,
  data_utils, data_preprocessing, data_augmentation), plus ``DNN``'s methods;
- **internals**: TFlearn's own plumbing (``utils``, ``variables``, ``callbacks``, ``summaries``,
  ``config``, ``collections``, ``distances``, ``data_flow``, ``estimators``).

A name deepscope deliberately refuses (a TensorFlow-graph internal that raises a clear error saying
what to use instead) is a function that exists, so it counts; `TENSORFLOW_ONLY` in deepscope lists them.

    python scripts/tflearn_programs/count_names.py PATH/TO/tflearn          # the counts, then what is missing
"""
from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run_program  # noqa: E402,F401  (the tflearn -> deepscope alias)

USER_API = ("__init__", "layers", "helpers", "models", "datasets", "activations", "objectives", "optimizers",
            "metrics", "initializations", "data_utils", "data_preprocessing", "data_augmentation")
INTERNALS = ("utils", "variables", "callbacks", "summaries", "config", "collections", "distances", "data_flow",
             "estimators")


def defined_names(path: Path) -> list[str]:
    """Public functions and classes defined at the top of a file."""
    tree = ast.parse(path.read_text())
    return [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and not n.name.startswith("_")]


def imported_names(path: Path) -> list[str]:
    """Public names a package's ``__init__.py`` imports (``from .x import a, b`` and ``from . import x``)."""
    tree = ast.parse(path.read_text())
    return [a.asname or a.name for n in tree.body if isinstance(n, ast.ImportFrom) and n.module != "__future__"
            for a in n.names if a.name != "*" and not (a.asname or a.name).startswith("_")]


def names_of(checkout: Path, relative: str) -> list[tuple[str, str]]:
    """(module, name) pairs of one TFlearn module or package (its files, recursively)."""
    root = checkout / "tflearn"
    if relative == "__init__":
        return [("tflearn", name) for name in imported_names(root / "__init__.py")]
    target = root / relative
    if target.is_dir():
        pairs = [(f"tflearn.{relative}", name) for name in imported_names(target / "__init__.py")]
        for file in sorted(target.rglob("*.py")):
            dotted = ".".join(file.relative_to(root).with_suffix("").parts)
            if file.name == "__init__.py":
                dotted = dotted[: -len(".__init__")]
            pairs += [(f"tflearn.{dotted}", name) for name in defined_names(file)]
        return list(dict.fromkeys(pairs))
    return [(f"tflearn.{relative}", name) for name in defined_names(target.with_suffix(".py"))]


def dnn_methods(checkout: Path) -> list[tuple[str, str]]:
    tree = ast.parse((checkout / "tflearn/models/dnn.py").read_text())
    dnn = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "DNN")
    return [("tflearn.DNN", n.name) for n in dnn.body if isinstance(n, ast.FunctionDef) and not n.name.startswith("_")]


def resolves(module_name: str, name: str) -> bool:
    owner_name = module_name
    try:
        owner = importlib.import_module(module_name)
    except ImportError:
        head, _, attribute = module_name.rpartition(".")  # e.g. tflearn.DNN: a class, not a module
        try:
            owner = getattr(importlib.import_module(head), attribute)
        except (ImportError, AttributeError):
            return False
    del owner_name
    return hasattr(owner, name)


def count(pairs: list[tuple[str, str]]) -> tuple[int, list[str]]:
    missing = [f"{module}.{name}" for module, name in pairs if not resolves(module, name)]
    return len(pairs) - len(missing), missing


def main(checkout: Path) -> None:
    for title, modules, extra in (("user API", USER_API, dnn_methods(checkout)), ("internals", INTERNALS, [])):
        pairs = [pair for relative in modules for pair in names_of(checkout, relative)] + extra
        found, missing = count(pairs)
        print(f"{title}: {found} of {len(pairs)} of TFlearn's public names exist ({100 * found / len(pairs):.1f}%)")
        for relative in modules:
            part = names_of(checkout, relative)
            part_found, _ = count(part)
            print(f"  {'tflearn' if relative == '__init__' else relative:20s} {part_found:4d} / {len(part)}")
        if extra:
            print(f"  {'DNN methods':20s} {count(extra)[0]:4d} / {len(extra)}")
        print("  missing:", " ".join(missing) or "none")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
