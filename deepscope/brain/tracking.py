"""Representations over training: when did a layer become brain-like, and do seeds agree?

::

    tracker = RepresentationTracker(probe_images, brain_rdm=human_it)   # a callback
    model.fit(X, Y, n_epoch=10, callbacks=tracker)     # -> representations.npz in the run folder
    plot_trajectory(load_trajectory(model.last_run.path), "trajectory.png")
    seed_agreement([run_a, run_b, run_c])              # per layer: do seeds end with the same RDMs?

Every ``every`` epochs the tracker records each chosen layer's RDM of a fixed probe set (the
upper triangle), its RSA with the brain RDM when one is given, and its linear CKA with the same
layer at the previous record. At the end of the fit it writes ``representations.npz`` into the
run folder (atomically), so it works inside a ``Study``: each trial's folder has its trajectory.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from .._checks import Text, check_choice, check_int, fail
from .._io import atomic_write_bytes, save_figure
from ..callbacks.base import Callback
from ..introspect.recording import activations, resolve_layers
from ..introspect.similarity import linear_cka, rdm
from ..runs.trajectory import FILE, Trajectory, load_trajectory, plot_trajectory, trajectory_figure  # noqa: F401 (the readers)
from .data import as_rdms
from .rsa import METHODS, correlate, upper_vectors
from ..utils import evaluation_pass



class RepresentationTracker(Callback):
    """Records layer RDMs (and RSA with a brain RDM) every ``every`` epochs (see the module doc).

    Args:
        X_probe: the probe stimuli (the same every epoch), e.g. the 92 images at the network's size.
        layers: layer names (default: every layer with parameters or an activation).
        brain_rdm: ``(N, N)`` or ``(subjects, N, N)`` RDMs of the probe stimuli, or None.
        every: record every this many epochs (and before training: epoch 0).
        method: the RDM comparison (``'spearman'``, ``'pearson'``, ``'kendall_tau_a'``).
    """

    def __init__(self, X_probe, layers=None, brain_rdm=None, every: int = 1, method: str = "spearman"):
        if X_probe is None or len(X_probe) < 3:
            fail("RepresentationTracker X_probe", "at least 3 probe stimuli", Text("fewer"))
        self.X_probe, self.layers = X_probe, layers
        self.every = check_int(every, "RepresentationTracker every", minimum=1)
        check_choice(method, "RepresentationTracker method", list(METHODS))
        self.method = METHODS[method]
        self.brain = None if brain_rdm is None else upper_vectors(
            as_rdms(brain_rdm, "RepresentationTracker brain_rdm", len(X_probe)))
        self.epochs, self.records, self.features = [], [], {}
        self.cka_previous = []

    def on_train_begin(self, state) -> None:
        if self.layers is None:
            self.layers = [name for name, m in resolve_layers(state.model, None).items()
                           if any(True for _ in m.parameters()) or getattr(m, "activation_name", None)]
        else:
            self.layers = list(resolve_layers(state.model, self.layers))
        if not self.epochs:
            self._record(state.model, state.epoch)

    def on_epoch_end(self, state) -> None:
        if state.epoch % self.every == 0:
            self._record(state.model, state.epoch)

    def on_train_end(self, state) -> None:
        if state.run is not None and self.epochs:
            self.save(Path(state.run.path) / FILE)

    def _record(self, model, epoch: int) -> None:
        with evaluation_pass(getattr(model, "net", model)):
            acts = activations(model, self.X_probe, self.layers)
        flat = {name: a.reshape(len(a), -1).astype(np.float64) for name, a in acts.items()}
        vectors = upper_vectors(np.stack([rdm(flat[name]) for name in self.layers]))  # (L, P)
        cka = [linear_cka(self.features[name], flat[name]) if name in self.features else np.nan for name in self.layers]
        self.features = flat
        self.epochs.append(epoch)
        self.records.append(vectors)
        self.cka_previous.append(cka)

    def trajectory(self) -> Trajectory:
        rdms = np.stack(self.records)  # (E, L, P)
        if self.brain is not None:
            brain_rsa = np.stack([correlate(v, self.brain, self.method).mean(1) for v in rdms])
        else:
            brain_rsa = np.full(rdms.shape[:2], np.nan)
        return Trajectory(np.asarray(self.epochs), list(self.layers), rdms, brain_rsa,
                          np.asarray(self.cka_previous, dtype=float), self.method)

    def save(self, path) -> Path:
        t = self.trajectory()
        buffer = io.BytesIO()
        np.savez_compressed(buffer, epochs=t.epochs, layers=np.array(t.layers), rdms=t.rdms.astype(np.float32),
                            brain_rsa=t.brain_rsa, cka_previous=t.cka_previous, method=np.array(t.method))
        return atomic_write_bytes(path, buffer.getvalue(), durable=False)


def _folders(run_folders, where: str) -> list:
    """``run_folders`` as a list, with a clear error for one folder or none (a string is not a list of them)."""
    if run_folders is None or isinstance(run_folders, (str, bytes, Path)) or not hasattr(run_folders, "__iter__"):
        fail(where, "a list of run folders (one per seed)", run_folders, error=TypeError)
    return list(run_folders)


def seed_agreement(run_folders, method: str = "spearman") -> dict:
    """Do seeds converge to the same representation? Per layer, the mean RDM correlation between
    every pair of runs at their last record (and at every common epoch).

    Returns:
        ``{'layers': [...], 'epochs': (E,), 'final': (L,), 'over_epochs': (E, L)}``.
    """
    check_choice(method, "seed_agreement method", list(METHODS))
    runs = [load_trajectory(f) for f in _folders(run_folders, "seed_agreement run_folders")]
    if len(runs) < 2:
        fail("seed_agreement run_folders", "at least 2 runs", Text(f"{len(runs)}"))
    layers = runs[0].layers
    if any(r.layers != layers for r in runs):
        fail("seed_agreement", "runs that tracked the same layers", Text("different layer lists"))
    epochs = sorted(set.intersection(*(set(r.epochs.tolist()) for r in runs)))
    over = np.zeros((len(epochs), len(layers)))
    for e, epoch in enumerate(epochs):
        at = [r.rdms[list(r.epochs).index(epoch)] for r in runs]  # each (L, P)
        for i in range(len(layers)):
            pairs = [correlate(at[a][i:i + 1], at[b][i:i + 1], METHODS[method])[0, 0]
                     for a in range(len(runs)) for b in range(a + 1, len(runs))]
            over[e, i] = np.mean(pairs)
    return {"layers": layers, "epochs": np.asarray(epochs), "final": over[-1], "over_epochs": over}


def plot_drift(run_folders, path, method: str = "spearman", title: str | None = None):
    """How each layer's representation changes over training and differs across seeds, in one figure.

    Left: per layer, 1 - linear CKA with the previous record (how much it moved since), mean over the runs
    with their spread; right: per layer, the RDM correlation between the runs (seeds) at every common
    epoch (do seeds converge to the same representation?).

    Args:
        run_folders: the run folders of one network trained with several seeds, each with a
            ``RepresentationTracker``'s record (at least 2).
        path: the figure.
        method: the RDM comparison across seeds (see :func:`seed_agreement`).
    """
    from matplotlib.figure import Figure

    run_folders = _folders(run_folders, "plot_drift run_folders")
    runs = [load_trajectory(f) for f in run_folders]
    agreement = seed_agreement(run_folders, method)
    layers = agreement["layers"]
    fig = Figure(figsize=(11, 3.8), layout="constrained")
    left, right = fig.subplots(1, 2)
    for i, layer in enumerate(layers):
        change = np.stack([1 - r.cka_previous[:, i] for r in runs])  # (runs, E) (NaN at the first record)
        epochs = runs[0].epochs
        mean, sd = np.nanmean(change, 0), np.nanstd(change, 0)
        line = left.plot(epochs[1:], mean[1:], "o-", label=layer)[0]
        left.fill_between(epochs[1:], (mean - sd)[1:], (mean + sd)[1:], color=line.get_color(), alpha=0.15)
        right.plot(agreement["epochs"], agreement["over_epochs"][:, i], "o-", color=line.get_color(), label=layer)
    left.set_xlabel("epoch")
    left.set_ylabel("1 - CKA with the previous record")
    left.set_title(f"how much each layer moved (mean ± sd over {len(runs)} seeds)")
    right.set_xlabel("epoch (0 = before training)")
    right.set_ylabel(f"RDM correlation between seeds ({method})")
    right.set_title("do the seeds agree?")
    from matplotlib.ticker import MaxNLocator

    for ax in (left, right):
        ax.legend(fontsize=7)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # (epochs)
    if title:
        fig.suptitle(title)
    return save_figure(fig, path, where="plot_drift path")
