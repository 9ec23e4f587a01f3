"""Where trials run: ``execute_trial`` (one trial) and ``execute_stack`` (trials trained together) in the
driver, in worker processes (``ProcessSubmitter``) or as Ray tasks (``RaySubmitter``)."""
from __future__ import annotations

import shutil
import sys
import time
import traceback
from pathlib import Path
from typing import Callable

import torch

from .._checks import fail
from ..callbacks.run_folder import runs_dir
from ..models.fit_state import resume_named_runs
from ..utils import set_seed
from .fit import Fit, final_logs
from .journal import plain_metrics
from .stack_checkpoint import checkpoint_path
from .stack_training import train_stack
from .stacking import new_member, stack_key


def execute_trial(train_fn: Callable, root, params: dict, seed: int, run_id: str, resume: bool, metric: str) -> dict:
    """Train one trial (in the driver or in a worker process): seed, run folders under ``root``,
    resume an interrupted attempt. Returns ``{"metrics", "seconds"}`` or ``{"error", "traceback",
    "seconds"}`` (the study goes on after a failed trial)."""
    start = time.perf_counter()
    try:
        with runs_dir(root), resume_named_runs(resume):  # the trial's fits write here (and resume)
            set_seed(seed)
            metrics = plain_metrics(train_fn(dict(params), seed, run_id), metric)
    except KeyboardInterrupt:
        raise
    except Exception as error:  # noqa: BLE001 - the study goes on; the message is kept
        return {"error": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc()[-4000:],
                "seconds": _since(start)}
    return {"metrics": metrics, "seconds": _since(start)}


class ProcessSubmitter:
    """Trials in spawned worker processes of this machine (``concurrent.futures``)."""

    def __init__(self, train_fn, workers: int, threads: int):
        import pickle
        try:
            pickle.dumps(train_fn)
        except (pickle.PicklingError, AttributeError, TypeError) as error:
            fail("Study train_fn (workers > 1)", "a function defined at module level of an importable file",
                 getattr(train_fn, "__qualname__", type(train_fn).__name__),
                 f"Worker processes import it by name ({type(error).__name__}). Move it to a module, or use "
                 "workers=1.", error=TypeError)
        self.workers, self.threads = workers, threads

    def capacity(self) -> int:
        return self.workers

    def __enter__(self):
        import concurrent.futures as futures
        import multiprocessing
        self.pool = futures.ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                                initializer=_init_worker, initargs=(self.threads,))
        return self

    def share(self, value):
        """``value`` as the jobs receive it (pickled with each job)."""
        return value

    def submit(self, fn, *args):
        return self.pool.submit(fn, *args)

    def result(self, job) -> dict:
        return job.result()

    def __exit__(self, kind, value, traceback_):
        # on an error or interrupt: drop what has not started (the workers die with the driver)
        self.pool.shutdown(wait=kind is None, cancel_futures=kind is not None)


class RaySubmitter:
    """Trials as Ray tasks (``num_cpus=threads`` each) on the cluster this process connects to."""

    def __init__(self, threads: int, address: str | None):
        try:
            import ray
        except ImportError:
            fail("Study backend", "Ray installed for backend='ray'", "no module named 'ray'",
                 "pip install 'deepscope[ray]'", error=ImportError)
        self.ray, self.threads = ray, threads
        if not ray.is_initialized():
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        self.remote = ray.remote(num_cpus=threads, max_retries=0)(_ray_call)

    def capacity(self) -> int:
        """The cluster's CPUs divided by the threads of one trial."""
        return max(1, int(self.ray.cluster_resources().get("CPU", 1) // self.threads))

    def __enter__(self):
        self.refs = {}
        return self

    def share(self, value):
        """``value`` put once into Ray's object store (a training set is not shipped with every task)."""
        return self.ray.put(value)

    def submit(self, fn, *args):
        ref = self.remote.remote(self.threads, fn, *args)
        job = ref.future()
        self.refs[job] = ref
        return job

    def result(self, job) -> dict:
        self.refs.pop(job, None)
        try:
            return job.result()
        except Exception as error:  # noqa: BLE001 - a task lost by Ray (node died): the trial failed
            return {"error": f"{type(error).__name__} (Ray): {error}"[:2000], "traceback": "", "seconds": 0.0}

    def __exit__(self, kind, value, traceback_):
        if kind is not None:  # an interrupt: cancel the tasks still running
            for ref in self.refs.values():
                self.ray.cancel(ref, force=True)


def _ray_call(threads: int, fn, *args):
    """``fn(*args)`` in a Ray worker with ``threads`` torch threads (a trial, or a stack of trials)."""
    torch.set_num_threads(threads)
    return fn(*args)


def execute_stack(fit: Fit, root, trials: list, metric: str, members: list | None = None,
                  verbose: bool = False, checkpoints=None) -> list[dict]:
    """Train ``(params, seed, run_id)`` trials of one stack key together (in the driver, a worker process
    or a Ray task): build each model after ``set_seed(seed)`` (unless ``members`` are given), train the
    stack, write each run folder under ``root``. Returns one ``execute_trial``-like outcome per trial (with
    ``vectorized``: the models in its stack). Whatever the stack cannot do, its trials do one by one.
    ``checkpoints``: the folder of stack checkpoints (a killed stack continues from its last epoch)."""
    try:
        if members is None:  # (a worker: the driver grouped these trials by their stack key)
            members = []
            for params, seed, run_id in trials:
                set_seed(seed)
                members.append(new_member(fit.model(params), run_id))
                members[-1].callbacks = fit.callbacks_for(params, seed)
        else:
            for member, (_, _, run_id) in zip(members, trials):
                member.run_id = run_id
        key, engine = stack_key(members[0].dnn)
        if key is None:
            raise ValueError(f"the models do not stack ({engine})")
        checkpoint = None if checkpoints is None else checkpoint_path(checkpoints, [t[2] for t in trials])
        with runs_dir(root):
            stack = train_stack(members, engine, fit.stack_fit(), checkpoint=checkpoint)
    except KeyboardInterrupt:
        raise
    except Exception as error:  # noqa: BLE001 - the general path decides what the trials give
        if verbose:
            print(f"the vectorized run of {len(trials)} trials stopped ({type(error).__name__}: {error}); "
                  "they run one by one instead", flush=True)
        outcomes = []
        for params, seed, run_id in trials:
            if (Path(root) / run_id).is_dir():
                shutil.rmtree(Path(root) / run_id)  # a folder the stack had begun
            outcomes.append(execute_trial(fit, root, params, seed, run_id, False, metric))
        return outcomes
    outcomes = []
    for member in members:
        if member.failed is not None:
            outcomes.append({"error": f"NonFiniteError: {member.failed}", "traceback": "", "seconds": member.seconds})
        else:
            outcomes.append({"metrics": plain_metrics(final_logs(member.history), metric), "seconds": member.seconds})
        outcomes[-1]["vectorized"] = len(members)
        if any(getattr(cb, "pruned", False) for cb in member.callbacks):  # (a pruner stopped it)
            outcomes[-1]["pruned"] = True
        if stack.resumed_epoch is not None:
            outcomes[-1]["resumed_epoch"] = stack.resumed_epoch
    return outcomes


def _init_worker(threads: int) -> None:
    """A worker process of a study: ``threads`` torch threads (the one place deepscope sets them: its own
    processes, so that workers x threads matches the cores instead of oversubscribing them). On Linux
    the worker also dies with its driver, so a killed driver never leaves a trial running that the
    restarted driver would run again into the same folder."""
    torch.set_num_threads(threads)
    if sys.platform.startswith("linux"):
        import ctypes
        import signal
        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except OSError:
            pass


def _since(start: float) -> float:
    return round(time.perf_counter() - start, 3)
