"""Run TFlearn's own tests/ with tflearn = deepscope (no caps), one line per test.

    python scripts/tflearn_programs/run_tests.py PATH/TO/tflearn      # (run it in an empty folder)

TF_INDEX=1: a TensorFlow checkpoint is several files (``name.index`` ...), deepscope's is one; with
it, ``os.path.exists(name + '.index')`` answers for ``name`` (TFlearn's model tests check that file).
"""
import io
import os
import sys
import unittest
from pathlib import Path

os.environ["NOCAP"] = "1"
sys.path.insert(0, str(Path(__file__).resolve().parent))
import run_program  # noqa: E402,F401  (the alias and the TensorFlow stand-in)
if os.environ.get("TF_INDEX"):  # TensorFlow checkpoints are several files (name.index, ...): deepscope's is one
    _exists = os.path.exists
    os.path.exists = lambda p: _exists(p) or (str(p).endswith(".index") and _exists(str(p)[:-6]))
loader = unittest.TestLoader()
checkout = Path(sys.argv[1]).resolve()
suite = loader.discover(str(checkout / "tests"), pattern="test*.py", top_level_dir=str(checkout))
def flat(s):
    for t in s:
        if isinstance(t, unittest.TestSuite):
            yield from flat(t)
        else:
            yield t
for test in flat(suite):
    result = unittest.TestResult()
    out = io.StringIO(); old = sys.stdout; sys.stdout = out
    try:
        test.run(result)
    finally:
        sys.stdout = old
    problems = result.errors + result.failures
    status = "PASS" if not problems else "FAIL"
    why = "" if not problems else problems[0][1].strip().splitlines()[-1][:160]
    print(f"{status} {test.id()} {why}", flush=True)
