"""Where trials run: ``execute_trial`` (one trial) and ``execute_stack`` (trials trained together) in the
driver (``InlineSubmitter``), in worker processes (``ProcessSubmitter``) or as Ray tasks (``RaySubmitter``).
The three submitters share one interface (``capacity``, ``share``, ``submit``, ``result``, a context), so the
study drives them all with one claim -> submit -> wait -> journal loop (``Study._execute``)."""
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
from ..models.fit_state import resume_named_runs, study_trial
from ..utils import set_seed
from .fit import Fit, final_logs
from .journal import plain_metrics
from .stack_checkpoint import checkpoint_path
from .stack_training import train_stack
from .stacking import new_member, stack_key
from .trials import Claim, Outcome


def execute_trial(train_fn: Callable, root, claim: Claim, metric: str, verbose: bool = True) -> Outcome:
    """Train one claimed trial (in the driver or in a worker process): seed, run folders under ``root``,
    resume an interrupted attempt. A failed trial gives an ``Outcome`` with its error (the study goes on).
    ``verbose`` False: its fits show no progress."""
    start = time.perf_counter()
    trial = claim.trial
    try:
        with runs_dir(root), resume_named_runs(claim.resume), study_trial(trial.params, trial.seed, verbose):
            set_seed(trial.seed)
            metrics = plain_metrics(train_fn(dict(trial.params), trial.seed, claim.run_id), metric)
    except KeyboardInterrupt:
        raise
    except Exception as error:  # noqa: BLE001 - the study goes on; the message is kept
        return Outcome(_since(start), error=f"{type(error).__name__}: {error}", traceback=traceback.format_exc()[-4000:])
    return Outcome(_since(start), metrics=metrics)


class InlineSubmitter:
    """Jobs run in this process, one at a time, when submitted (the returned future is already done)."""

    def capacity(self) -> int:
        return 1

    def __enter__(self):
        return self

    def share(self, value):
        return value

    def submit(self, fn, *args):
        import concurrent.futures as futures
        job = futures.Future()
        job.set_result(fn(*args))
        return job

    def result(self, job):
        return job.result()

    def __exit__(self, kind, value, traceback_):
        return None


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

    def result(self, job):
        return job.result()

    def __exit__(self, kind, value, traceback_):
        # on an error or interrupt: drop what has not started (the workers die with the driver)
        self.pool.shutdown(wait=kind is None, cancel_futures=kind is not None)


class RaySubmitter:
    """Trials as Ray tasks (``num_cpus=threads`` each) on the cluster this process connects to."""

    def __init__(self, threads: int, address: str | None, workers: int | None = None):
        try:
            import ray
        except ImportError:
            fail("Study backend", "Ray installed for backend='ray'", "no module named 'ray'",
                 "pip install 'deepscope[ray]'", error=ImportError)
        self.ray, self.threads, self.workers = ray, threads, workers
        if not ray.is_initialized():
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        self.remote = ray.remote(num_cpus=threads, max_retries=0)(_ray_call)

    def capacity(self) -> int:
        """``workers``, or the cluster's CPUs divided by the threads of one trial."""
        return self.workers or max(1, int(self.ray.cluster_resources().get("CPU", 1) // self.threads))

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

    def result(self, job):
        self.refs.pop(job, None)
        try:
            return job.result()
        except Exception as error:  # noqa: BLE001 - a task lost by Ray (node died): its trials failed
            return Outcome(0.0, error=f"{type(error).__name__} (Ray): {error}"[:2000])

    def __exit__(self, kind, value, traceback_):
        if kind is not None:  # an interrupt: cancel the tasks still running
            for ref in self.refs.values():
                self.ray.cancel(ref, force=True)


def _ray_call(threads: int, fn, *args):
    """``fn(*args)`` in a Ray worker with ``threads`` torch threads (a trial, or a stack of trials)."""
    torch.set_num_threads(threads)
    return fn(*args)


def execute_stack(fit: Fit, root, claims: list[Claim], metric: str, members: list | None = None,
                  verbose: bool = False, checkpoints=None) -> list[Outcome]:
    """Train claimed trials of one stack key together (in the driver, a worker process or a Ray task):
    build each model after ``set_seed(seed)`` (unless ``members`` are given), train the stack, write each
    run folder under ``root``. Returns one ``Outcome`` per trial (``vectorized``: the models in its stack).
    Whatever the stack cannot do, its trials do one by one. ``checkpoints``: the folder of stack
    checkpoints (a killed stack continues from its last checkpoint)."""
    try:
        if members is None:  # (a worker: the driver grouped these trials by their stack key)
            members = []
            for claim in claims:
                set_seed(claim.trial.seed)
                members.append(new_member(fit.model(claim.trial.params), claim.run_id))
                members[-1].callbacks = fit.callbacks_for(claim.trial.params, claim.trial.seed)
        else:
            for member, claim in zip(members, claims):
                member.run_id = claim.run_id
        for member, claim in zip(members, claims):  # (each run folder records its trial, as a fit's does)
            member.trial = {"params": dict(claim.trial.params), "seed": claim.trial.seed}
        key, engine = stack_key(members[0].dnn)
        if key is None:
            raise ValueError(f"the models do not stack ({engine})")
        checkpoint = None if checkpoints is None else checkpoint_path(checkpoints, [c.run_id for c in claims])
        stack_fit = fit.stack_fit()
        stack_fit.progress = verbose  # (the study's verbose: a line per epoch of the stack)
        with runs_dir(root):
            stack = train_stack(members, engine, stack_fit, checkpoint=checkpoint)
    except KeyboardInterrupt:
        raise
    except Exception as error:  # noqa: BLE001 - the general path decides what the trials give
        if verbose:
            print(f"the vectorized run of {len(claims)} trials stopped ({type(error).__name__}: {error}); "
                  "they run one by one instead", flush=True)
        outcomes = []
        for claim in claims:
            if (Path(root) / claim.run_id).is_dir():
                shutil.rmtree(Path(root) / claim.run_id)  # a folder the stack had begun
            outcomes.append(execute_trial(fit, root, Claim(claim.trial, claim.run_id, False, claim.attempt), metric,
                                          verbose))
        return outcomes
    outcomes = []
    for member in members:
        if member.failed is not None:
            outcome = Outcome(member.seconds, error=f"NonFiniteError: {member.failed}")
        else:
            outcome = Outcome(member.seconds, metrics=plain_metrics(final_logs(member.history), metric))
        outcome.vectorized = len(members)
        outcome.pruned = any(getattr(cb, "pruned", False) for cb in member.callbacks)  # (a pruner stopped it)
        outcome.resumed = stack.resumed_epoch is not None
        outcomes.append(outcome)
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
