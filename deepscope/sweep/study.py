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

Each trial's run folder is ``<runs>/<study>/<swept values and seed>-<id start>``; the journal ``<runs>/<study>/journal.jsonl``
records ``started`` / ``finished`` / ``failed`` events (see :mod:`deepscope.sweep.journal`).
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Callable

import numpy as np

from .._checks import check_choice, check_int, checks_keywords, fail
from .._io import atomic_write_json
from ..callbacks.run_folder import runs_root
from ..callbacks.run_logger import MODEL_FILE
from ..models.fit_state import fit_callbacks
from ..models.loading import load_model
from ..utils import set_seed
from .journal import TERMINAL, Journal, trial_folder_name, trial_id
from .records import _key, aggregate, journal_rows, metric_value, trial_record
from .report import study_report
from .stability import study_summary
from .space import check_space, grid, sample
from ..runs.report import Report
from .bayes import run_bayes
from .fit import Fit
from .claims import OWNER, journal_lock, owner_alive
from .execution import InlineSubmitter, ProcessSubmitter, RaySubmitter, execute_stack, execute_trial
from .trials import Claim, Outcome, Trial, TrialState
from .stack_checkpoint import checkpoint_path
from .stacking import engine_label, new_member, stack_groups

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
        self.optuna_study = None  # method='bayes': the optuna study after run()

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
        """The trial's run folder under the runs root: ``<study>/<swept values and seed>-<id start>``."""
        return f"{self.name}/{trial_folder_name(params, seed)}"

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
            self.optuna_study = run_bayes(self)
        else:
            points = self.points()
            total = len(points) * len(self.seeds)
            trials = [Trial(params, seed, f"{i * len(self.seeds) + j + 1}/{total}")
                      for i, params in enumerate(points) for j, seed in enumerate(self.seeds)]
            self.run_trials(trials)
        return self.results()

    def run_trials(self, trials: list[Trial], callbacks=None) -> list[dict]:
        """Run the trials not yet done: stacked when :attr:`vectorize`, the rest in worker processes
        (``workers > 1``), as Ray tasks, or one by one. Returns their journal states.

        Args:
            trials: :class:`~deepscope.sweep.trials.Trial` records.
            callbacks: ``callbacks(params, seed) -> list``: more callbacks for a trial's fit (a pruning
                reporter), for trials trained in this process; a trial whose callback has ``pruned`` set
                is recorded as pruned."""
        asked = list(trials)
        if self.vectorize:
            trials = self._run_stacked(trials, callbacks)
        if callbacks is not None:  # (callbacks stay in this process)
            self._execute([[t] for t in trials], lambda claims: (self._train_here, claims[0],
                                                                 callbacks(claims[0].trial.params, claims[0].trial.seed)))
        elif trials:
            submitter = self._submitter()
            fn = submitter.share(self.train_fn)
            self._execute([[t] for t in trials], lambda claims: (execute_trial, fn, str(self.root), claims[0],
                                                                 self.metric, self.verbose), submitter)
        states = self.journal.states()
        return [states[t.id] for t in asked if t.id in states]

    def _submitter(self):
        """Where this study's jobs run: Ray tasks, worker processes, or this process."""
        if self.backend == "ray":
            return RaySubmitter(self.threads, self.ray_address, self.workers)
        if self.workers > 1:
            return ProcessSubmitter(self.train_fn, self.workers, self.threads)
        return InlineSubmitter()

    def stacks_in_process(self, params: dict, seed) -> bool:
        """Whether this study trains a trial of ``params`` in a stack in this process (a ``Fit``, vectorized,
        one worker, no Ray, nothing that keeps it out of a stack)."""
        fit = self.train_fn
        return bool(self.vectorize) and isinstance(fit, Fit) and self.backend != "ray" and (self.workers or 1) <= 1 \
            and fit.why_not_vectorized(fit.callbacks_for(params, seed)) is None

    def _run_stacked(self, trials: list[Trial], callbacks=None) -> list[Trial]:
        """Build the model of every trial not yet done, train those that share a stack key together
        (:func:`~deepscope.sweep.stack_training.train_stack`, each trial claimed in the journal first) and
        return the others (unstackable, or resuming from checkpoints) for the ordinary path."""
        fit: Fit = self.train_fn
        states = self.journal.states()
        candidates, left = [], []
        reasons: dict[str, int] = {}  # why trials run one by one: how many
        for trial in trials:
            state = states.get(trial.id)
            if state is not None and (state["event"] in TERMINAL or _has_checkpoints(self.root / state["run_id"])):
                left.append(trial)  # done (skipped there) or resumes from its checkpoints
                continue
            try:
                trial_callbacks = fit.callbacks_for(trial.params, trial.seed)
                why = fit.why_not_vectorized(trial_callbacks)
            except Exception:  # noqa: BLE001 - the ordinary path runs it again and records the error
                why = "its callbacks could not be made"
            if why is not None:
                reasons[why] = reasons.get(why, 0) + 1
                left.append(trial)
                continue
            set_seed(trial.seed)
            try:
                model = fit.model(trial.params)
            except Exception:  # noqa: BLE001 - the ordinary path runs it again and records the error
                left.append(trial)
                continue
            member = new_member(model)
            member.callbacks = trial_callbacks + (list(callbacks(trial.params, trial.seed)) if callbacks else [])
            candidates.append((trial, member))
        stacks, singles = stack_groups([member for _, member in candidates])
        trial_of = {id(member): trial for trial, member in candidates}
        for member, reason in singles:
            reasons[reason] = reasons.get(reason, 0) + 1
            left.append(trial_of[id(member)])
        if self.verbose and stacks:
            how = ", ".join(f"{len(m)} models, {engine_label(m, e)}" for m, e in stacks)
            print(f"[{self.name}] {sum(len(m) for m, _ in stacks)} trials in {len(stacks)} vectorized "
                  f"run{'s' if len(stacks) > 1 else ''} ({how})", flush=True)
        for reason, count in reasons.items():
            if self.verbose and len(trials) > 1:
                print(f"[{self.name}] {count} trial{'s' if count > 1 else ''} not vectorized: {reason}", flush=True)
        checkpoints = str(self.folder / "stacks")
        if (self.backend == "ray" or (self.workers or 1) > 1) and callbacks is None:  # stacks as jobs of workers
            submitter = self._submitter()
            capacity = submitter.capacity()
            parts = []
            for members, _ in stacks:
                size = -(-len(members) // capacity)  # every worker gets a share of every stack
                parts += [[trial_of[id(m)] for m in members[i:i + size]] for i in range(0, len(members), size)]
            fn = submitter.share(self.train_fn)
            self._execute(parts, lambda claims: (execute_stack, fn, str(self.root), claims, self.metric, None, False,
                                                 checkpoints), submitter, stacked=True)
        else:  # in this process, with the models built above (each trial claimed first)
            member_of = {trial_of[id(m)].id: m for members, _ in stacks for m in members}
            self._execute([[trial_of[id(m)] for m in members] for members, _ in stacks],
                          lambda claims: (execute_stack, self.train_fn, self.root, claims, self.metric,
                                          [member_of[c.trial.id] for c in claims], self.verbose, checkpoints),
                          stacked=True)
        return left

    def _execute(self, groups: list[list[Trial]], job, submitter=None, stacked: bool = False) -> None:
        """The one claim -> submit -> wait -> journal loop. Each group of trials is claimed in the journal
        (those done or taken meanwhile drop out), submitted as one job (``job(claims) -> (fn, *args)``,
        giving an ``Outcome`` or a list of them), and journaled when its outcomes come back; at most the
        submitter's capacity of jobs run at once.

        Args:
            groups: the trials of each job (one trial, or the part of a stack a job trains).
            job: what to submit for a group's claims.
            submitter: where jobs run (None: in this process, one after the other).
            stacked: the jobs train stacks (their checkpoints are removed once they are journaled).
        """
        import concurrent.futures as futures

        submitter = submitter or InlineSubmitter()
        capacity = submitter.capacity()
        pending, running = list(groups), {}
        with submitter:
            while pending or running:
                while pending and len(running) < capacity:
                    claims = self._claim(pending.pop(0))
                    if claims:
                        fn, *args = job(claims)
                        running[submitter.submit(fn, *args)] = claims
                if not running:
                    break
                done, _ = futures.wait(running, return_when=futures.FIRST_COMPLETED)
                for finished in done:
                    claims = running.pop(finished)
                    outcomes = submitter.result(finished)
                    if isinstance(outcomes, Outcome):  # one trial's, or a lost job's (each of its trials failed)
                        outcomes = [outcomes] + [replace(outcomes) for _ in claims[1:]]
                    self._finish_trials(list(zip(claims, outcomes)))
                    if stacked:
                        checkpoint_path(self.folder / "stacks", [c.run_id for c in claims]).unlink(missing_ok=True)

    def _train_here(self, claim: Claim, callbacks: list) -> Outcome:
        """A trial in this process whose fits also run ``callbacks`` (a pruning reporter)."""
        with fit_callbacks(callbacks or []):
            outcome = execute_trial(self.train_fn, self.root, claim, self.metric, self.verbose)
        outcome.pruned = any(getattr(cb, "pruned", False) for cb in callbacks or [])
        return outcome

    def run_point_seed(self, params: dict, seed: int, label: str = "", callbacks=None) -> dict:
        """Run one trial unless the journal says it is done; return its journal state.

        Args:
            callbacks: callbacks every ``DNN.fit`` of the trial also runs (a pruning reporter); a trial
                whose callback has ``pruned`` set is recorded as pruned."""
        trial = Trial(params, seed, label)
        self._execute([[trial]], lambda claims: (self._train_here, claims[0], callbacks))
        return self.journal.states()[trial.id]

    def skip_pruned(self, params: dict, seed: int, label: str, epoch: int) -> None:
        """Record a trial of a pruned point as pruned without running it."""
        claims = self._claim([Trial(params, seed, label)])
        if claims:
            self.journal.append("pruned", trial=claims[0].trial.id, params=params, seed=seed,
                                run_id=claims[0].run_id, metrics={}, seconds=0.0,
                                note=f"its point was pruned after epoch {epoch} of the first seed")
            self._say(label, params, seed, "not run: the point was pruned")

    def _claim(self, trials: list[Trial]) -> list[Claim]:
        """Journal trials as started (under the journal's lock: one read, one fsynced write), unless the
        journal says they are done or another live driver runs them: their claims (run folder, whether each
        resumes an interrupted attempt from checkpoints, the attempt number)."""
        claims, events = [], []
        with journal_lock(self.folder):  # claim the trials: no other driver starts them meanwhile
            states = self.journal.states()
            for trial in trials:
                state = states.get(trial.id)
                if state is not None and (state["event"] in TERMINAL or (
                        state.get("owner") != OWNER and owner_alive(state.get("owner")))):
                    self.counts["skipped"] += 1  # done, or another live driver is running it
                    continue
                # a trial started before keeps its folder (also one named by an older deepscope: its id)
                run_id = (state or {}).get("run_id") or self.run_id(trial.params, trial.seed)
                folder = self.root / run_id
                resume = False
                if state is not None:  # started, never finished: its driver was killed
                    self.counts["rerun"] += 1
                    resume = _has_checkpoints(folder)
                    if not resume and folder.is_dir():
                        shutil.rmtree(folder)  # a partial run without checkpoints: start again in the same folder
                attempt = (state or {}).get("attempts", 0) + 1
                events.append(("started", dict(trial=trial.id, params=trial.params, seed=trial.seed, run_id=run_id,
                                               attempt=attempt, resume=resume, owner=OWNER)))
                claims.append(Claim(trial, run_id, resume, attempt))
            if events:
                self.journal.append_many(events)
        return claims

    def _finish_trials(self, finished: list[tuple[Claim, Outcome]]) -> list[dict]:
        """Journal the outcomes of a job's trials with their records (one fsynced write for a whole stack);
        print one line each."""
        events, lines = [], []
        for claim, outcome in finished:
            trial, run_id, seconds = claim.trial, claim.run_id, outcome.seconds
            params, seed = trial.params, trial.seed
            found = trial_record(self.root, run_id)
            if outcome.state is TrialState.FAILED:
                events.append(("failed", dict(trial=trial.id, params=params, seed=seed, run_id=run_id,
                                              error=outcome.error, traceback=outcome.traceback, seconds=seconds,
                                              record=found)))
                lines.append((trial, f"FAILED {outcome.error}"))
                continue
            metrics = outcome.metrics
            extra = {"vectorized": outcome.vectorized} if outcome.vectorized else {}  # models in its stack
            events.append((outcome.state.value, dict(trial=trial.id, params=params, seed=seed, run_id=run_id,
                                                     metrics=metrics, seconds=seconds, record=found, **extra)))
            value = metrics.get(self.metric)
            shown = f"{self.metric}={value:.4g}" if isinstance(value, float) else f"{self.metric}={value}"
            root = (found or {}).get("root_cause")
            how = "".join(part for part, on in ((f", 1 of {outcome.vectorized} vectorized", outcome.vectorized),
                                                 (", resumed", claim.resume or outcome.resumed),
                                                 (", pruned", outcome.pruned)) if on)
            lines.append((trial, f"{shown} ({seconds:.1f} s{how})" + (f" diagnosis: {root}" if root else "")))
        records = self.journal.append_many(events) if events else []
        for trial, text in lines:
            self._say(trial.label, trial.params, trial.seed, text)
        self.counts["run"] += len(finished)
        return [{**record, "attempts": claim.attempt} for record, (claim, _) in zip(records, finished)]

    def _say(self, label, params, seed, text) -> None:
        if self.verbose:
            shown = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())
            print(f"[{self.name}] trial {label} {shown} seed={seed}: {text}", flush=True)

    # -- results ----------------------------------------------------------------------------
    def results(self) -> list[dict]:
        """One row per trial in the journal: ``trial, run_id, params, seed, status, metrics, error, attempts``
        (status ``'finished'``, ``'failed'``, ``'pruned'`` or ``'interrupted'``)."""
        return journal_rows(self.journal)

    def trained_models(self, params: dict, device=None) -> list:
        """The trained model of each finished seed of the point ``params`` (from their run folders), for
        analyses over seeds (``introspect.across_seeds``).

        Args:
            params: the point, as in :meth:`results` rows' ``params``.
            device: where to put the models (default: automatic).

        Returns:
            A list of ``DNN``, in the order of the study's seeds.
        """
        rows = [r for r in self.results() if r["params"] == params and r["status"] == "finished"]
        if not rows:
            points = sorted({json.dumps(r["params"], sort_keys=True) for r in self.results()})
            fail("Study.trained_models params", "a point with finished trials (" + "; ".join(points[:6]) + ")",
                 params, error=KeyError)
        order = {seed: i for i, seed in enumerate(self.seeds)}
        rows.sort(key=lambda r: order.get(r["seed"], len(order)))
        models = []
        for row in rows:
            path = self.root / row["run_id"] / MODEL_FILE
            if not path.is_file():
                fail("Study.trained_models", f"the trained model in every run folder ({MODEL_FILE})",
                     f"none in {path.parent}", "Its fit ran with run folders off, or the folder was removed.",
                     error=FileNotFoundError)
            models.append(load_model(path, device=device))
        return models

    def table(self, metric: str | None = None) -> list[dict]:
        """Aggregate per point over seeds: see :func:`aggregate`."""
        return aggregate(self.results(), metric or self.metric)

    def report(self, path=None, collapse="auto"):
        """An HTML report of the study (see :mod:`deepscope.sweep.report`), shown inline in notebooks.

        Args:
            collapse: the metric value at or below which a trial counts as collapsed; ``'auto'``: just above
                chance for an accuracy (see :meth:`collapse_level`); None: no collapse marks.
        """
        return Report(study_report(self, path, collapse=self.collapse_level(collapse)))

    def summary(self, x: str, y: str, collapse="auto") -> str:
        """Which cells of the ``x`` by ``y`` grid collapsed, for which seeds, and why (the trials'
        diagnoses): see :func:`deepscope.sweep.study_summary` (``collapse`` as :meth:`report`)."""
        return study_summary(self, x, y, self.metric, self.collapse_level(collapse))

    def collapse_level(self, collapse="auto") -> float | None:
        """``collapse`` as a number: ``'auto'`` is chance + 0.01 for an accuracy metric (1 / classes, the
        classes read from a ``Fit``'s targets: 0.11 for 10 classes, 0.343 for 3), 0.11 when they are unknown,
        and None (no collapse marks) for other metrics."""
        if collapse != "auto":
            return collapse
        if not self.metric.endswith("acc"):
            return None
        if isinstance(self.train_fn, Fit):
            y = np.asarray(self.train_fn.Y)
            classes = y.shape[1] if y.ndim == 2 and y.shape[1] > 1 else len(np.unique(y)) if y.size else 0
            if classes == 1:
                classes = 2  # (one sigmoid unit: two classes)
            if classes >= 2:
                return round(1.0 / classes + 0.01, 3)
        return 0.11


def _has_checkpoints(folder: Path) -> bool:
    ckpt = folder / "checkpoints"
    return ckpt.is_dir() and any(p.is_file() for p in ckpt.rglob("*"))
