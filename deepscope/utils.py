"""Reproducibility helpers, and the one way to run a network for evaluation."""
from __future__ import annotations

import random
from contextlib import contextmanager, nullcontext
from typing import Iterable

import numpy as np
import torch

from ._checks import check_int


def set_seed(seed: int) -> int:
    """Seed Python, numpy and torch (all devices) for a reproducible run.

    Args:
        seed: a non-negative integer.

    Returns:
        The seed.
    """
    seed = check_int(seed, "set_seed seed", minimum=0)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    if _accelerators_present():
        torch.manual_seed(seed)
    else:  # (the same seeding: torch.manual_seed also queues a lazy seed for each absent accelerator
        torch.default_generator.manual_seed(seed)  # backend, with a stack trace each: ~1 ms, a study trial's share)
    return seed


def _accelerators_present() -> bool:
    """Whether any device other than the CPU could be used (CUDA, MPS, XPU, MTIA, a custom backend)."""
    checks = (lambda: torch.cuda.is_available(), lambda: torch.backends.mps.is_available(),
              lambda: torch.xpu.is_available(), lambda: torch.mtia.is_available(),
              lambda: torch._C._get_privateuse1_backend_name() != "privateuseone")
    for check in checks:
        try:
            if check():
                return True
        except (AttributeError, RuntimeError):
            continue
    return False


def repeat(inputs, repetitions: int, layer, *args, **kwargs):
    """``layer`` applied ``repetitions`` times, each on the previous output (TFlearn's ``utils.repeat``,
    for stacks of identical blocks): ``repeat(net, 10, block35, scale=0.17)``."""
    repetitions = check_int(repetitions, "repeat repetitions", minimum=0)
    outputs = inputs
    for _ in range(repetitions):
        outputs = layer(outputs, *args, **kwargs)
    return outputs


def init_graph(seed=None, log_device=False, num_cores=0, gpu_memory_fraction=0, soft_placement=True):
    """TFlearn's ``init_graph``: here it seeds the random generators and sets the CPU threads."""
    if seed is not None:
        set_seed(seed)
    if num_cores:
        torch.set_num_threads(check_int(num_cores, "init_graph num_cores"))


# Samples per forward pass (they change memory use and speed, never results):
INFERENCE_BATCH_SIZE = 1024  # predict, ensemble evaluation: outputs only
RECORDING_BATCH_SIZE = 256  # introspection: every recorded layer's activations are kept
GRADIENT_BATCH_SIZE = 64  # attribution: a backward pass per batch, with the input gradients


@contextmanager
def evaluation_pass(net: torch.nn.Module, hooks: Iterable = (), gradients: bool = False):
    """Run ``net`` for evaluation: eval mode (no dropout, batch-norm running statistics) and, unless
    ``gradients``, no autograd; afterwards, even on an error, the hook handles in ``hooks`` are removed
    and every submodule's train/eval mode is what it was (the one eval-mode helper of the package).

    Args:
        net: the module.
        hooks: handles returned by ``register_forward_hook`` / ``register_forward_pre_hook``.
        gradients: keep autograd on (attribution and synthesis take gradients in eval mode).

    Yields:
        ``net``.
    """
    modes = [(m, m.training) for m in net.modules()]
    net.eval()
    try:
        if gradients:
            yield net
        else:
            with torch.no_grad():
                yield net
    finally:
        for handle in hooks:
            handle.remove()
        for module, mode in modes:
            module.training = mode


class Session:
    """TFlearn's TensorFlow session, for programs that use one: ``with model.session.as_default():``
    works and ``session.run(x)`` returns ``x``'s value. deepscope needs no session: weights live in
    the modules, so models built from shared layers share them already."""

    def as_default(self):
        return nullcontext(self)

    def run(self, fetches, feed_dict=None):
        """The value of a parameter or tensor (or a list of them) as numpy."""
        if isinstance(fetches, (list, tuple)):
            return [self.run(f) for f in fetches]
        return fetches.detach().cpu().numpy() if isinstance(fetches, torch.Tensor) else fetches

    def close(self) -> None:
        pass



# TFlearn's tflearn.utils names
from .tflearn_utils import (autoformat_filter_conv2d, autoformat_filter_conv3d, autoformat_kernel_2d,  # noqa: E402,F401
                            autoformat_kernel_3d, autoformat_padding, autoformat_stride_3d, check_dir_name,
                            check_restore_tensor, check_scope_path, del_duplicated, feed_dict_builder, fix_saver,
                            format_scope_name, get_all_tensor_children, get_all_tensor_parents,
                            get_dict_first_element, get_from_module, get_incoming_shape, get_tensor_children,
                            get_tensor_children_placeholders, get_tensor_parents, get_tensor_parents_placeholders,
                            get_tensor_with_parent_name, id_generator, is_none, make_batches, prepare_X,
                            read_tensor_in_checkpoint, slice_array, standarize_data, standarize_dict, to_list,
                            validate_dim, validate_func)
