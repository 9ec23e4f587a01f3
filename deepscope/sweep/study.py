"""A parameter study: every (point, seed) trained once, crash-safe, with a table of the results.

::

    def train_fn(params, seed, run_id):
        model = tflearn.DNN(build(params["l2_first"], params["l2_second"]))
        model.fit(X, Y, n_epoch=5, validation_set=(testX, testY), run_id=run_id)
        return {"val_acc": model.evaluate(testX, testY)[0]}

    study = Study("l2", train_fn, {"l2_first": [1e-4, 1e-3], "l2_second": [1e-4, 1e-3]}, seeds=(0, 1, 2))
    study.run()            # kill it any time and run it again: it finishes what is missing
    study.table()          # mean, std, min, max over seeds, per point

Described with :class:`~deepscope.sweep.Fit` instead of a function, the trials that share an
architecture train together in one vectorized run (each exactly as its own fit would)::

    study = Study("l2", Fit(build, X, Y, n_epoch=5, validation_set=(testX, testY)), space, seeds=(0, 1, 2))

Each trial's run folder is ``<runs>/<study>/<trial id>``; the journal ``<runs>/<study>/journal.jsonl``
records ``started`` / ``finished`` / ``failed`` events (see :mod:`deepscope.sweep.journal`).
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Callable

import numpy as np

from .._checks import check_choice, check_int, checks_keywords, fail
from .._io import atomic_write_json
from ..callbacks.run_folder import runs_root
from ..models.fit_state import fit_callbacks
from ..utils import set_seed
from .journal import TERMINAL, Journal, trial_id
from .records import _key, aggregate, journal_rows, metric_value, trial_record
from .report import study_report
from .stability import study_summary
from .space import check_space, grid, sample
from ..runs.report import Report
from .bayes import run_bayes
from .fit import Fit
from .claims import OWNER, journal_lock, owner_alive
from .execution import ProcessSubmitter, RaySubmitter, execute_stack, execute_trial
from .stack_checkpoint import checkpoint_path
from .stacking import new_member, stack_groups

METHODS = ("grid", "random", "bayes")
BACKENDS = ("processes", "ray")


class Study:
    """A set of trainings: every point of ``space`` times every seed.

    Args:
        name: the study's name; its folder is ``<root>/<name>``.
        train_fn: ``train_fn(params, seed, run_id) -> dict of final metrics``; call
            ``model.fit(..., run_id=run_id)`` inside so the run folder lands in the study's folder.
            The random generators are seeded with ``seed`` before each call.
        space: a dict ``name -> list`` (grid) or ``name -> distribution`` (see :mod:`.space`).
        seeds: the training seeds of every point.
        root: the runs folder (default ``$DEEPSCOPE_RUNS`` or ``./runs``).
        method: ``'grid'`` (every combination), ``'random'`` or ``'bayes'`` (optuna's TPE).
        n_trials: number of points for random / Bayesian search (each run with every seed).
        metric: the metric that ``table`` and Bayesian search use.
        mode: ``'max'`` or ``'min'``: whether a larger ``metric`` is better.
        workers: trials run at once, each in its own process (grid and random search). ``train_fn``
            must then be defined at module level of an importable file (not a lambda or a notebook
            cell), as for any ``multiprocessing`` code; a script needs ``if __name__ == '__main__':``.
            Every trial still runs exactly once (the driver dispatches them and writes the journal).
        threads: torch threads per worker process (default: the CPU cores divided among the workers;
            more would oversubscribe the cores).
        backend: where ``workers`` run trials: ``'processes'`` (default: worker processes on this
            machine) or ``'ray'`` (Ray tasks on a cluster: ``ray start --head`` on one machine, ``ray
            start --address=<head>:6379`` on the others; the optional extra ``pip install 'deepscope[ray]'``).
            With Ray, ``root`` must be a folder every node sees (shared storage), ``train_fn`` travels by
            Ray's serialization (closures work), and ``workers`` defaults to the cluster's CPUs divided by
            ``threads`` (default 1). The driver still claims and journals every trial.
        ray_address: the cluster to connect to (``'auto'``, ``'<head>:6379'``; None: the one this process
            is connected to already, else Ray's default: a running local cluster or a new local instance).
        storage: method='bayes': the optuna storage the search lives in (an RDB URL such as
            ``'sqlite:///study.db'``, or an optuna storage object); default: a journal file in the study's
            folder. Several drivers of one study share it (see :mod:`deepscope.sweep.bayes`).
        pruner: method='bayes': an optuna pruner (``optuna.pruners.MedianPruner()``,
            ``HyperbandPruner()``) judging the per-epoch ``metric`` of each point's first seed. One by one, a
            pruned point's other seeds are not run; vectorized (in this process), the point's seeds train
            as one stack and stop together at the epoch the pruner stops the first.
        vectorize: ``'auto'`` (default): when ``train_fn`` is a :class:`~deepscope.sweep.Fit`, the trials
            that share an architecture train together in one vectorized run (each as its own fit would:
            see :mod:`deepscope.sweep.stacking`); trials that cannot be stacked run one by one, and the
            study says why. ``False``: one by one always. ``True``: as ``'auto'``, but ``train_fn`` must be a
            ``Fit``.
        search_seed: the seed of the random / Bayesian sampler (not of the trainings).
        verbose: print one line per trial.
    """

    @checks_keywords
    def __init__(self, name: str, train_fn: Callable, space: dict, seeds=(0,), root=None, method: str = "grid",
                 n_trials: int | None = None, metric: str = "val_acc", mode: str = "max", search_seed: int = 0,
                 verbose: bool = True, workers: int | None = None, threads: int | None = None, vectorize="auto",
                 backend: str = "processes", ray_address: str | None = None, storage=None, pruner=None):
        if not isinstance(name, str) or not name or name in (".", "..") or "/" in name or "\\" in name:
            fail("Study name", "a non-empty folder name without slashes", name)
        if not callable(train_fn):
            fail("Study train_fn", "a function train_fn(params, seed, run_id) -> dict", train_fn, error=TypeError)
        self.method = check_choice(method, "Study method", METHODS)
        self.space = check_space(space, method)
        if isinstance(seeds, int):
            seeds = (seeds,)
        self.seeds = [check_int(s, "Study seeds", minimum=0) for s in seeds]
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            fail("Study seeds", "a non-empty list of distinct seeds", seeds)
        if method != "grid" and n_trials is None:
            fail("Study n_trials", f"the number of points to try with method={method!r}", None, "Give n_trials=20.")
        self.n_trials = None if n_trials is None else check_int(n_trials, "Study n_trials", minimum=1)
        self.metric, self.mode = metric, check_choice(mode, "Study mode", ("max", "min"))
        self.search_seed = check_int(search_seed, "Study search_seed", minimum=0)
        self.train_fn, self.name, self.verbose = train_fn, name, verbose
        if vectorize not in ("auto", True, False):
            fail("Study vectorize", "'auto', True or False", vectorize)
        if vectorize is True and not isinstance(train_fn, Fit):
            fail("Study vectorize", "a train_fn given as deepscope.sweep.Fit(build, X, Y, ...) (a plain function "
                 "cannot be stacked: the study does not know its network)", type(train_fn).__name__,
                 "Describe the training with Fit, or use vectorize='auto'.", error=TypeError)
        self.vectorize = bool(vectorize) and isinstance(train_fn, Fit)
        if (storage is not None or pruner is not None) and method != "bayes":
            fail("Study storage / pruner", "method='bayes' (they are optuna's, for its search)", method,
                 "Give method='bayes', or leave storage and pruner out.")
        if pruner is not None and not hasattr(pruner, "prune"):
            fail("Study pruner", "an optuna pruner such as optuna.pruners.MedianPruner()", type(pruner).__name__,
                 error=TypeError)
        self.storage, self.pruner = storage, pruner
        self.backend = check_choice(backend, "Study backend", BACKENDS)
        self.ray_address = ray_address
        self.workers = None if workers is None else check_int(workers, "Study workers", minimum=1)
        if (self.workers or 1) > 1 and method == "bayes":
            fail("Study workers", "1 with method='bayes' (each point is chosen from the results before it)",
                 workers, "Use method='grid' or 'random' for parallel trials.")
        if backend == "ray" and method == "bayes":
            fail("Study backend", "'processes' with method='bayes' (each point is chosen from the results before it)",
                 backend, "Use method='grid' or 'random' on Ray.")
        if backend == "processes":
            self.workers = self.workers or 1
        default_threads = 1 if backend == "ray" else max(1, (os.cpu_count() or 1) // self.workers)
        self.threads = default_threads if threads is None else check_int(threads, "Study threads", minimum=1)
        self.root = runs_root(root).resolve()
        self.folder = self.root / name
        self.journal = Journal(self.folder / "journal.jsonl")
        self.counts = {"run": 0, "skipped": 0, "rerun": 0}

    # -- points -----------------------------------------------------------------------------
    def points(self) -> list[dict]:
        """The points of a grid or random study (a Bayesian study chooses its points as it goes)."""
        if self.method == "grid":
            points = grid(self.space)
            return points if self.n_trials is None else points[:self.n_trials]
        if self.method == "random":
            return sample(self.space, self.n_trials, self.search_seed)
        fail("Study.points", "method 'grid' or 'random'", self.method, "Bayesian points come from study.run().")

    def run_id(self, params: dict, seed: int) -> str:
        return f"{self.name}/{trial_id(params, seed)}"

    # -- running ----------------------------------------------------------------------------
    def run(self) -> list[dict]:
        """Train every (point, seed) not yet finished or failed in the journal; return :meth:`results`.

        Several drivers may run one study at once (other terminals, other machines on a shared folder):
        each trial is claimed in the journal under a lock, so every trial runs once; a trial started by a
        driver that has died since is taken over (resumed from its checkpoints when it has some)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        return self._run()

    def _run(self) -> list[dict]:
        atomic_write_json(self.folder / "study.json", {
            "name": self.name, "method": self.method, "seeds": self.seeds, "n_trials": self.n_trials,
            "metric": self.metric, "mode": self.mode, "search_seed": self.search_seed,
            "space": {k: v if isinstance(v, list) else repr(v) for k, v in self.space.items()}})
        self.counts = {"run": 0, "skipped": 0, "rerun": 0}
        if self.method == "bayes":
            run_bayes(self)
        else:
            points = self.points()
            total = len(points) * len(self.seeds)
            trials = [(params, seed, f"{i * len(self.seeds) + j + 1}/{total}")
                      for i, params in enumerate(points) for j, seed in enumerate(self.seeds)]
            self.run_trials(trials)
        return self.results()

    def run_trials(self, trials: list, callbacks=None) -> list[dict]:
        """Run ``(params, seed, label)`` trials not yet done: stacked when :attr:`vectorize`, the rest in
        worker processes (``workers > 1``) or one by one. Returns their journal states.

        Args:
            callbacks: ``callbacks(params, seed) -> list``: more callbacks for a trial's fit (a pruning
                reporter), for trials trained in this process; a trial whose callback has ``pruned`` set
                is recorded as pruned."""
        asked = list(trials)
        if self.vectorize:
            trials = self._run_stacked(trials, callbacks)
        if callbacks is not None:  # (callbacks stay in this process: the rest one by one here)
            for params, seed, label in trials:
                self.run_point_seed(params, seed, label, callbacks=callbacks(params, seed))
        elif self.backend == "ray":
            self._run_parallel(trials, RaySubmitter(self.threads, self.ray_address))
        elif self.workers > 1:
            self._run_parallel(trials)
        else:
            for params, seed, label in trials:
                self.run_point_seed(params, seed, label)
        states = self.journal.states()
        return [states[trial_id(params, seed)] for params, seed, _ in asked if trial_id(params, seed) in states]

    def stacks_in_process(self, params: dict, seed) -> bool:
        """Whether this study trains a trial of ``params`` in a stack in this process (a ``Fit``, vectorized,
        one worker, no Ray, nothing that keeps it out of a stack)."""
        fit = self.train_fn
        return bool(self.vectorize) and isinstance(fit, Fit) and self.backend != "ray" and (self.workers or 1) <= 1 \
            and fit.why_not_vectorized(fit.callbacks_for(params, seed)) is None

    def _run_stacked(self, trials: list, callbacks=None) -> list:
        """Build the model of every trial not yet done, train those that share a stack key together
        (:func:`~deepscope.sweep.stack_training.train_stack`, each trial claimed in the journal first) and
        return the others (unstackable, or resuming from checkpoints) for the ordinary path."""
        fit: Fit = self.train_fn
        states = self.journal.states()
        candidates, left = [], []
        reasons: dict[str, int] = {}  # why trials run one by one: how many
        for params, seed, label in trials:
            state = states.get(trial_id(params, seed))
            if state is not None and (state["event"] in TERMINAL or _has_checkpoints(self.root / state["run_id"])):
                left.append((params, seed, label))  # done (skipped there) or resumes from its checkpoints
                continue
            try:
                trial_callbacks = fit.callbacks_for(params, seed)
                why = fit.why_not_vectorized(trial_callbacks)
            except Exception:  # noqa: BLE001 - the ordinary path runs it again and records the error
                why = "its callbacks could not be made"
            if why is not None:
                reasons[why] = reasons.get(why, 0) + 1
                left.append((params, seed, label))
                continue
            set_seed(seed)
            try:
                model = fit.model(params)
            except Exception:  # noqa: BLE001 - the ordinary path runs it again and records the error
                left.append((params, seed, label))
                continue
            member = new_member(model)
            member.callbacks = trial_callbacks + (list(callbacks(params, seed)) if callbacks else [])
            candidates.append(((params, seed, label), member))
        stacks, singles = stack_groups([member for _, member in candidates])
        trial_of = {id(member): trial for trial, member in candidates}
        for member, reason in singles:
            reasons[reason] = reasons.get(reason, 0) + 1
            left.append(trial_of[id(member)])
        if self.verbose and stacks:
            print(f"[{self.name}] {sum(len(m) for m, _ in stacks)} trials in {len(stacks)} vectorized "
                  f"run{'s' if len(stacks) > 1 else ''} ({', '.join(f'{len(m)} models, {e}' for m, e in stacks)})",
                  flush=True)
        for reason, count in reasons.items():
            if self.verbose and len(trials) > 1:
                print(f"[{self.name}] {count} trial{'s' if count > 1 else ''} not vectorized: {reason}", flush=True)
        if (self.backend == "ray" or (self.workers or 1) > 1) and callbacks is None:  # stacks as jobs of workers
            self._run_stack_jobs(stacks, trial_of)
        else:
            for members, _ in stacks:
                self._train_stack_here(members, trial_of)
        return left

    def _claim(self, trials: list) -> list:
        """Claim ``(params, seed, label)`` trials: ``(params, seed, label, start)`` of those not taken meanwhile."""
        claimed = []
        for (params, seed, label), start in zip(trials, self._start_trials([t[:2] for t in trials])):
            if start is None:
                self.counts["skipped"] += 1
                continue
            claimed.append((params, seed, label, start))
        return claimed

    def _journal_stack(self, claimed: list, outcomes: list) -> None:
        """Journal a stack's trials, then drop the stack's checkpoint."""
        for (params, seed, label, start), outcome in zip(claimed, outcomes):
            resumed = outcome.pop("resumed_epoch", None) is not None
            self._finish_trial(params, seed, label, {**start, "vectorized": outcome.pop("vectorized", None),
                                                     "resume": start["resume"] or resumed}, outcome)
        checkpoint_path(self.folder / "stacks", [start["run_id"] for *_, start in claimed]).unlink(missing_ok=True)

    def _train_stack_here(self, members: list, trial_of: dict) -> None:
        """Claim the members' trials (others may have taken some meanwhile), train them in this process,
        journal each."""
        by_trial = {trial_id(*trial_of[id(m)][:2]): m for m in members}
        claimed = self._claim([trial_of[id(m)] for m in members])
        if claimed:
            kept = [by_trial[start["trial"]] for *_, start in claimed]
            jobs = [(params, seed, start["run_id"]) for params, seed, _, start in claimed]
            self._journal_stack(claimed, execute_stack(self.train_fn, self.root, jobs, self.metric, members=kept,
                                                       verbose=self.verbose, checkpoints=str(self.folder / "stacks")))

    def _run_stack_jobs(self, stacks: list, trial_of: dict) -> None:
        """Stacks split into parts, one part per worker process or Ray task (claimed when submitted)."""
        import concurrent.futures as futures

        submitter = (RaySubmitter(self.threads, self.ray_address) if self.backend == "ray"
                     else ProcessSubmitter(self.train_fn, self.workers, self.threads))
        capacity = self.workers or submitter.capacity()
        parts = []
        for members, _ in stacks:
            size = -(-len(members) // capacity)  # every worker gets a share of every stack
            parts += [[trial_of[id(m)] for m in members[i:i + size]] for i in range(0, len(members), size)]
        with submitter:
            fit = submitter.share(self.train_fn)
            running = {}
            while parts or running:
                while parts and len(running) < capacity:
                    claimed = self._claim(parts.pop(0))
                    if claimed:
                        jobs = [(params, seed, start["run_id"]) for params, seed, _, start in claimed]
                        running[submitter.submit(execute_stack, fit, str(self.root), jobs, self.metric, None, False,
                                                 str(self.folder / "stacks"))] = claimed
                if not running:
                    break
                done, _ = futures.wait(running, return_when=futures.FIRST_COMPLETED)
                for job in done:
                    claimed = running.pop(job)
                    outcomes = submitter.result(job)
                    if isinstance(outcomes, dict):  # the job itself was lost (Ray): each of its trials failed
                        outcomes = [dict(outcomes) for _ in claimed]
                    self._journal_stack(claimed, outcomes)

    def _run_parallel(self, trials: list, submitter=None) -> None:
        """Run ``trials`` in ``workers`` processes (spawned, ``threads`` torch threads each), or as Ray
        tasks. The driver journals a trial as started when it submits it and finished when its result
        comes back."""
        import concurrent.futures as futures

        submitter = submitter or ProcessSubmitter(self.train_fn, self.workers, self.threads)
        workers = self.workers or submitter.capacity()
        pending = list(trials)
        with submitter:
            running = {}
            while pending or running:
                while pending and len(running) < workers:
                    params, seed, label = pending.pop(0)
                    start = self._start_trial(params, seed)
                    if start is None:
                        continue
                    job = submitter.submit(execute_trial, self.train_fn, str(self.root), params, seed,
                                           start["run_id"], start["resume"], self.metric)
                    running[job] = (params, seed, label, start)
                if not running:
                    break
                done, _ = futures.wait(running, return_when=futures.FIRST_COMPLETED)
                for job in done:
                    params, seed, label, start = running.pop(job)
                    self._finish_trial(params, seed, label, start, submitter.result(job))

    def run_point_seed(self, params: dict, seed: int, label: str = "", callbacks=None) -> dict:
        """Run one trial unless the journal says it is done; return its journal state.

        Args:
            callbacks: callbacks every ``DNN.fit`` of the trial also runs (a pruning reporter); a trial
                whose callback has ``pruned`` set is recorded as pruned."""
        start = self._start_trial(params, seed)
        if start is None:
            self.counts["skipped"] += 1
            return self.journal.states()[trial_id(params, seed)]
        with fit_callbacks(callbacks or []):
            outcome = execute_trial(self.train_fn, self.root, params, seed, start["run_id"], start["resume"],
                                    self.metric)
        if any(getattr(cb, "pruned", False) for cb in callbacks or []):
            outcome["pruned"] = True
        return self._finish_trial(params, seed, label, start, outcome)

    def skip_pruned(self, params: dict, seed: int, label: str, epoch: int) -> None:
        """Record a trial of a pruned point as pruned without running it."""
        start = self._start_trial(params, seed)
        if start is not None:
            self.journal.append("pruned", trial=start["trial"], params=params, seed=seed, run_id=start["run_id"],
                                metrics={}, seconds=0.0, note=f"its point was pruned after epoch {epoch} of the first seed")
            self._say(label, params, seed, "not run: the point was pruned")

    def _start_trial(self, params: dict, seed: int) -> dict | None:
        """Journal a trial as started (None when the journal says it is done): its run id, whether it
        resumes an interrupted attempt from checkpoints, and the attempt number."""
        return self._start_trials([(params, seed)])[0]

    def _start_trials(self, trials: list) -> list[dict | None]:
        """:meth:`_start_trial` for many ``(params, seed)`` at once: one lock, one read of the journal,
        one fsynced write (a vectorized study claims its stacks so)."""
        starts, events = [], []
        with journal_lock(self.folder):  # claim the trials: no other driver starts them meanwhile
            states = self.journal.states()
            for params, seed in trials:
                tid = trial_id(params, seed)
                state = states.get(tid)
                if state is not None and (state["event"] in TERMINAL or (
                        state.get("owner") != OWNER and owner_alive(state.get("owner")))):
                    starts.append(None)  # done, or another live driver is running it
                    continue
                run_id = f"{self.name}/{tid}"
                folder = self.root / run_id
                resume = False
                if state is not None:  # started, never finished: its driver was killed
                    self.counts["rerun"] += 1
                    resume = _has_checkpoints(folder)
                    if not resume and folder.is_dir():
                        shutil.rmtree(folder)  # a partial run without checkpoints: start again in the same folder
                attempt = (state or {}).get("attempts", 0) + 1
                events.append(("started", dict(trial=tid, params=params, seed=seed, run_id=run_id, attempt=attempt,
                                               resume=resume, owner=OWNER)))
                starts.append({"trial": tid, "run_id": run_id, "resume": resume, "attempt": attempt})
            if events:
                self.journal.append_many(events)
        return starts

    def _finish_trial(self, params: dict, seed: int, label: str, start: dict, outcome: dict) -> dict:
        """Journal a trial's outcome (``execute_trial``'s) with its record; print one line."""
        tid, run_id, seconds = start["trial"], start["run_id"], outcome["seconds"]
        found = trial_record(self.root, run_id)
        if "error" in outcome:
            record = self.journal.append("failed", trial=tid, params=params, seed=seed, run_id=run_id,
                                         error=outcome["error"], traceback=outcome["traceback"], seconds=seconds,
                                         record=found)
            self._say(label, params, seed, f"FAILED {outcome['error']}")
        else:
            metrics = outcome["metrics"]
            event = "pruned" if outcome.get("pruned") else "finished"
            extra = {"vectorized": start["vectorized"]} if start.get("vectorized") else {}  # models in its stack
            record = self.journal.append(event, trial=tid, params=params, seed=seed, run_id=run_id,
                                         metrics=metrics, seconds=seconds, record=found, **extra)
            value = metrics.get(self.metric)
            shown = f"{self.metric}={value:.4g}" if isinstance(value, float) else f"{self.metric}={value}"
            root = (found or {}).get("root_cause")
            codes = [root] if root else []
            how = "".join(part for part, on in ((f", 1 of {start.get('vectorized')} vectorized", start.get("vectorized")),
                                                 (", resumed", start["resume"]), (", pruned", outcome.get("pruned")))
                          if on)
            self._say(label, params, seed, f"{shown} ({seconds:.1f} s{how})"
                      + (f" diagnosis: {', '.join(codes)}" if codes else ""))
        self.counts["run"] += 1
        return {**record, "attempts": start["attempt"]}

    def _say(self, label, params, seed, text) -> None:
        if self.verbose:
            shown = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())
            print(f"[{self.name}] trial {label} {shown} seed={seed}: {text}", flush=True)

    # -- results ----------------------------------------------------------------------------
    def results(self) -> list[dict]:
        """One row per trial in the journal: ``trial, run_id, params, seed, status, metrics, error, attempts``
        (status ``'finished'``, ``'failed'``, ``'pruned'`` or ``'interrupted'``)."""
        return journal_rows(self.journal)

    def table(self, metric: str | None = None) -> list[dict]:
        """Aggregate per point over seeds: see :func:`aggregate`."""
        return aggregate(self.results(), metric or self.metric)

    def report(self, path=None, collapse: float | None = 0.11):
        """An HTML report of the study (see :mod:`deepscope.sweep.report`), shown inline in notebooks."""
        return Report(study_report(self, path, collapse=collapse))

    def summary(self, x: str, y: str, collapse: float | None = 0.11) -> str:
        """Which cells of the ``x`` by ``y`` grid collapsed, for which seeds, and why (the trials'
        diagnoses): see :func:`deepscope.sweep.study_summary`."""
        return study_summary(self, x, y, self.metric, collapse)


def _has_checkpoints(folder: Path) -> bool:
    ckpt = folder / "checkpoints"
    return ckpt.is_dir() and any(p.is_file() for p in ckpt.rglob("*"))
