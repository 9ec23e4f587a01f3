"""Data-parallel training under ``torchrun``: the same ``fit`` on every process, each on its share
of every batch, gradients averaged after each backward pass.

    torchrun --nproc_per_node=4 train.py      # train.py calls model.fit(...) as usual

With ``WORLD_SIZE`` > 1 in the environment (torchrun sets it), ``DNN.fit``:
- joins the process group (NCCL on GPUs, Gloo on CPUs) and uses the process's own GPU (``LOCAL_RANK``);
- copies rank 0's weights and data-order seed to every process, so all start alike;
- gives each process the rows ``rank::world_size`` of every batch (the batch size stays the global
  one, as in a single process) and averages the gradients: with equal shares this is the gradient of
  the whole batch, so the weights follow the single-process run;
- averages the epoch loss over processes; only rank 0 writes the run folder, checkpoints and progress.
"""
from __future__ import annotations

import atexit
import os

import torch
import torch.distributed as dist


class DataParallel:
    """The process group of a torchrun job, as ``DNN.fit`` uses it.

    Args:
        rank: this process's rank.
        world_size: the number of processes.
    """

    def __init__(self, rank: int, world_size: int):
        self.rank, self.world_size = rank, world_size

    @classmethod
    def from_env(cls) -> "DataParallel | None":
        """The job described by torchrun's environment variables, or None outside one."""
        world_size = int(os.environ.get("WORLD_SIZE", "1"))
        if world_size <= 1 or not dist.is_available():
            return None
        if not dist.is_initialized():
            if torch.cuda.is_available():
                torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
            dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")
            # leave the group before the interpreter exits: an undestroyed Gloo group can abort the
            # process at exit ("terminate called without an active exception")
            atexit.register(_leave_group)
        return cls(dist.get_rank(), dist.get_world_size())

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def share(self, xs: list[torch.Tensor], y: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """This process's rows of a batch: ``rank::world_size``."""
        return [x[self.rank::self.world_size] for x in xs], y[self.rank::self.world_size]

    def average_gradients(self, params: list[torch.Tensor]) -> None:
        """Replace every gradient by its mean over the processes (one flat all-reduce)."""
        grads = [p.grad for p in params if p.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        flat /= self.world_size
        offset = 0
        for g in grads:
            g.copy_(flat[offset:offset + g.numel()].view_as(g))
            offset += g.numel()

    def mean(self, value: torch.Tensor) -> torch.Tensor:
        """The mean of a tensor over the processes."""
        value = value.detach().clone()
        dist.all_reduce(value)
        return value / self.world_size

    def broadcast_state(self, module: torch.nn.Module) -> None:
        """Copy rank 0's parameters and buffers to every process."""
        for tensor in module.state_dict().values():
            dist.broadcast(tensor, src=0)

    def broadcast_int(self, value: int, device: torch.device) -> int:
        """Rank 0's ``value`` on every process."""
        t = torch.tensor([value], dtype=torch.long, device=device)
        dist.broadcast(t, src=0)
        return int(t.item())


def _leave_group() -> None:
    if dist.is_initialized():
        dist.barrier()  # no process leaves while another still talks to it
        dist.destroy_process_group()
