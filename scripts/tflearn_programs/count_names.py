"""How many of TFlearn's public names deepscope has: functions and classes defined in TFlearn's
modules (and the names ``tflearn/__init__.py`` imports), each looked up through the tflearn alias.

    python scripts/tflearn_programs/count_names.py PATH/TO/tflearn          # prints the count, then the missing
"""
import ast
import importlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run_program  # noqa: E402,F401  (the tflearn -> deepscope alias)

MODULES = ("__init__", "activations", "data_augmentation", "data_preprocessing", "data_utils", "initializations",
           "layers/conv", "layers/core", "layers/embedding_ops", "layers/estimator", "layers/merge_ops",
           "layers/normalization", "layers/recurrent", "metrics", "objectives", "optimizers", "regularizers",
           "variables", "utils", "callbacks")


def main(checkout: Path) -> None:
    total, missing = 0, []
    for relative in MODULES:
        path = checkout / "tflearn" / f"{relative}.py"
        module_name = "tflearn" + ("" if relative == "__init__" else "." + relative.replace("/", "."))
        tree = ast.parse(path.read_text())
        if relative == "__init__":
            names = [a.asname or a.name for n in tree.body if isinstance(n, ast.ImportFrom) for a in n.names
                     if a.name != "*" and not (a.asname or a.name).startswith("_")]
        else:
            names = [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))
                     and not n.name.startswith("_")]
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            module = None
        for name in names:
            total += 1
            if module is None or not hasattr(module, name):
                missing.append(f"{module_name}.{name}")
    print(f"{total - len(missing)} of {total} of TFlearn's public names exist")
    print("missing:", " ".join(missing))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
