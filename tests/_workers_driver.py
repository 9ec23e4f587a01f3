"""A vectorized study with dropout for the partition test (tests/test_stacking.py).

    python tests/_workers_driver.py ROOT NAME WORKERS kill|run

8 trials (2 x 2 points x 2 seeds) of one stack, 3 epochs; with ``kill`` the driver dies (os._exit(9)) right
after journaling the first two finished trials of its first job (as a kill during the job's one journal write
leaves a prefix of its lines).
"""
import os
import sys

from deepscope.sweep import Fit, Study

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _sweep_trials import X, Y, build_dropout  # noqa: E402

if __name__ == "__main__":
    root, name, workers, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    if mode == "kill":
        finish = Study._finish_trials

        def finish_two_then_die(self, finished):
            finish(self, finished[:2])
            os._exit(9)
        Study._finish_trials = finish_two_then_die
    Study(name, Fit(build_dropout, X, Y, n_epoch=3, validation_set=(X, Y)), {"units": [4, 6], "lr": [0.1, 0.3]},
          seeds=(0, 1), root=root, workers=workers, threads=1).run()
    print("DONE")
