"""``python -m deepscope.cli.resume_script SCRIPT [ARGS]``: run a training script as ``__main__``
with every named run resuming from its checkpoints (what ``deepscope resume`` starts).

The CLI translates its request into the library's explicit switch, ``resume_named_runs()``; the
library itself reads no environment variable to decide it.
"""
from __future__ import annotations

import runpy
import sys

from ..models import resume_named_runs


def main(argv: list[str]) -> None:
    script, *script_args = argv
    sys.argv = [script, *script_args]
    sys.path.insert(0, str(__import__("pathlib").Path(script).resolve().parent))  # as `python script.py` does
    with resume_named_runs():
        runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])
