"""Checkpoints of a stack's training (:mod:`deepscope.sweep.stack_training`): a killed vectorized study
continues its stacks from their last finished epoch instead of training them again.

One file per stack, ``<study>/stacks/<digest>.safetensors`` (the digest names the stack's trials):
the stacked weights and buffers, the optimizer's state tensors, the per-model NaN flags, the step
records, the random generator and each model's dropout generator in safetensors; everything else
(epoch, step, histories, optimizer groups, schedule, record columns, a fingerprint of the stack) as
JSON in the file's metadata, with a sha256 of it all: a damaged file is refused and the stack starts
again (which gives the same result: every model's randomness is its own). Written atomically once 30 s
have passed since the last one (at a step inside an epoch, or at an epoch's end; a tiny network's
one-step epochs are not written every step), inside an epoch only without ``show_metric`` (its running
metrics are not saved); never unpickled; removed once the stack's trials are journaled.
"""
from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as safetensors_save

from .._io import atomic_write_bytes
from ..models.checkpoint import jsonable, load_optimizer_state, optimizer_state
from ..models.fit_state import EpochPosition

FORMAT = "deepscope-stack-checkpoint-2"  # 2: sha256, per-model dropout generators, positions inside an epoch
EVERY_SECONDS = 30.0  # write a stack's checkpoint once this long has passed since the last one
EVERY_STEPS = None  # or every this many steps (tests)


def checkpoint_path(folder, run_ids: list[str]) -> Path:
    """The checkpoint file of the stack of ``run_ids`` in ``folder`` (``<study>/stacks``)."""
    digest = hashlib.sha1("\n".join(sorted(run_ids)).encode("utf-8")).hexdigest()[:16]
    return Path(folder) / f"{digest}.safetensors"


def fingerprint(trainer) -> str:
    """What must be equal for a checkpoint to continue this stack: its trials, their stack key, the fit."""
    stack, settings = trainer.stack, trainer.settings
    text = json.dumps([[m.run_id for m in stack.members], trainer.key, settings.n_epoch, settings.batch_size,
                       settings.steps_per_epoch, settings.max_steps, trainer.n], default=str)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


class StackCheckpointer:
    """The one training loop's checkpointer for a stack (``models/trainer.Loop``): writes ``path`` every
    ``EVERY_STEPS`` steps when set, else once ``EVERY_SECONDS`` have passed since the last write (a tiny
    network's epoch of one step is not written at every step); inside an epoch only without
    ``show_metric`` (the running metrics are not saved)."""

    def __init__(self, trainer, path: Path):
        self.trainer, self.path = trainer, Path(path)
        self.saved_at = time.monotonic()

    def _time(self, step: int) -> bool:
        if EVERY_STEPS:
            return step % EVERY_STEPS == 0
        return time.monotonic() - self.saved_at >= EVERY_SECONDS

    def due(self, step: int) -> bool:
        """Inside an epoch (after a step)."""
        return self.trainer.metrics is None and self._time(step)

    def due_after_epoch(self, state) -> bool:
        """At an epoch's end, when more epochs follow."""
        return state.epoch < state.n_epoch and not state.stop_training and self._time(state.step)

    def save(self, state, order, batches_done: int, loss_sum, epoch_finished: bool = False) -> None:
        self.saved_at = time.monotonic()
        save(self.trainer, self.path, None if epoch_finished else (batches_done, loss_sum))

    def finish(self, state) -> bool:
        """Nothing at the end: the stack's trials are journaled next and the file removed."""
        return False


def save(trainer, path: Path, position: tuple | None = None) -> None:
    """Write the trainer's state (atomically): after a finished epoch, or inside one (``position``:
    ``(batches done, the epoch's loss sum so far)``)."""
    stack = trainer.stack
    tensors = {f"param.{k}": v.detach() for k, v in stack.params.items()}
    tensors.update({f"buffer.{k}": v.detach() for k, v in stack.buffers.items()})
    optimizer = optimizer_state(trainer.optimizer, tensors)
    tensors["alive"] = trainer.alive.to(torch.uint8)
    tensors["first_bad"] = trainer.first_bad
    tensors["rng"] = torch.get_rng_state()
    if position is not None:
        tensors["position.loss_sum"] = position[1].detach()
    for i, generator in enumerate(getattr(stack, "generators", [])):  # each model's dropout stream
        tensors[f"rng.model.{i}"] = generator.get_state()
    recorder = trainer.recorder
    if recorder is not None:
        tensors.update({f"record.{i}": v for i, v in enumerate(recorder.values)})
    meta = {"format": FORMAT, "fingerprint": fingerprint(trainer), "epoch": trainer.epoch, "step": trainer.step,
            "histories": trainer.histories, "optimizer": optimizer,
            "scheduler": jsonable(trainer.scheduler.state_dict()) if trainer.scheduler is not None else None,
            "records": None if recorder is None else {"columns": recorder.columns, "steps": recorder.steps},
            "stopped": [m.stopped_epoch for m in stack.members],
            "batches_done": None if position is None else int(position[0])}
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    meta["sha256"] = checksum(tensors, meta)
    data = safetensors_save(tensors, metadata={"deepscope": json.dumps(meta)})
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, data)


def checksum(tensors: dict, meta: dict) -> str:
    """sha256 of every tensor (name, dtype, shape, bytes, in name order) and of the metadata (but its
    own ``sha256``): a truncated file, a tensor missing or replaced, or cut metadata no longer match."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        digest.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode("utf-8"))
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    digest.update(json.dumps({k: v for k, v in meta.items() if k != "sha256"}, sort_keys=True,
                             default=str).encode("utf-8"))
    return digest.hexdigest()


def restore(trainer, path: Path) -> bool:
    """Continue the trainer from ``path`` when it holds this stack's state; False (start afresh) when
    there is none, or it belongs to another stack, or it cannot be read."""
    if not path.is_file():
        return False
    try:
        with safe_open(str(path), "pt") as f:
            meta = json.loads((f.metadata() or {}).get("deepscope", "{}"))
            if meta.get("format") != FORMAT or meta.get("fingerprint") != fingerprint(trainer):
                return False
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (OSError, ValueError, RuntimeError, SafetensorError):  # a damaged file: the stack starts again
        print(f"deepscope: the stack checkpoint {path.name} cannot be read (damaged); its trials start again "
              "from the beginning.", flush=True)
        return False
    if meta.get("sha256") != checksum(tensors, meta):  # damaged or edited: the stack starts again
        print(f"deepscope: the stack checkpoint {path.name} does not match its checksum (damaged); "
              "its trials start again from the beginning.", flush=True)
        return False
    stack = trainer.stack
    try:  # (torch checks the groups before it changes anything)
        load_optimizer_state(trainer.optimizer, {k: v.to(stack.device) for k, v in tensors.items()}, meta["optimizer"])
        if trainer.scheduler is not None and meta["scheduler"] is not None:
            trainer.scheduler.load_state_dict(meta["scheduler"])
    except (ValueError, KeyError, TypeError, RuntimeError):
        return False
    with torch.no_grad():
        for k, v in stack.params.items():
            v.copy_(tensors[f"param.{k}"])
        for k, v in stack.buffers.items():
            v.copy_(tensors[f"buffer.{k}"])
    trainer.alive = tensors["alive"].to(stack.device).bool()
    trainer.first_bad = tensors["first_bad"].to(stack.device)
    torch.set_rng_state(tensors["rng"])
    for i, generator in enumerate(getattr(stack, "generators", [])):
        generator.set_state(tensors[f"rng.model.{i}"])
    trainer.epoch, trainer.step, trainer.histories = meta["epoch"], meta["step"], meta["histories"]
    if meta.get("batches_done") is not None:  # written inside an epoch: continue it from there
        trainer.resume = EpochPosition(trainer.epoch_order(trainer.epoch), meta["batches_done"],
                                       tensors["position.loss_sum"].to(stack.device))
    for member, stopped in zip(stack.members, meta.get("stopped") or []):
        member.stopped_epoch = stopped  # (its slice holds the weights it stopped with)
    for i, member in enumerate(stack.members):
        if member.stopped_epoch is not None:
            stack.write_back_one(i)
    if trainer.recorder is not None and meta["records"] is not None:
        n = len(meta["records"]["steps"])
        trainer.recorder.values = [tensors[f"record.{i}"].to(stack.device) for i in range(n)]
        trainer.recorder.columns = meta["records"]["columns"]
        trainer.recorder.steps = [tuple(s) for s in meta["records"]["steps"]]
    return True
