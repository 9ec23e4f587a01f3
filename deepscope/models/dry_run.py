"""A dry run before training: one forward pass on two samples, so a miswired network fails at
once with the layer, the shape it received and what went wrong, never as a raw torch traceback
after the data was loaded and an epoch started."""
from __future__ import annotations

import torch
from torch import nn

from .._checks import Text, fail
from ..utils import evaluation_pass


def dry_run(net: nn.Module, xs: list[torch.Tensor], y: torch.Tensor | None, where: str = "fit") -> None:
    """Run ``net`` on the first two samples; raise a clear ValueError if it cannot run or if its
    output does not match the targets.

    Args:
        net: the network (an ``nn.Module``).
        xs: the inputs (one tensor per input).
        y: the targets (or None).
        where: who asks, for the message.
    """
    entered: list[tuple[str, nn.Module, tuple]] = []

    def record(module, inputs, name):
        shapes = tuple(tuple(t.shape) for t in inputs if isinstance(t, torch.Tensor))
        entered.append((name, module, shapes))

    handles = [m.register_forward_pre_hook(lambda mod, inp, name=name: record(mod, inp, name))
               for name, m in net.named_modules() if not list(m.children())]
    try:
        with evaluation_pass(net, handles):
            output = net(*[x[:2] for x in xs])
    except (RuntimeError, ValueError, IndexError, TypeError) as exc:
        if not entered:
            raise ValueError(f"{where}: the network could not run on the input of shape "
                             f"{tuple(xs[0][:2].shape)}: {exc}") from None
        name, module, shapes = entered[-1]
        shape_text = ", ".join(str(list(s)) for s in shapes) or "no tensor"
        raise ValueError(
            f"{where}: layer '{name}' ({type(module).__name__}) cannot take its input of shape {shape_text} "
            f"(batch of 2 samples): {str(exc).splitlines()[0]}. Check the sizes the previous layer "
            f"produces, e.g. in_features of a Linear after a Flatten."
        ) from None
    if y is not None and isinstance(output, torch.Tensor) and output.dim() >= 2 and y.dim() == output.dim():
        if tuple(output.shape[1:]) != tuple(y.shape[1:]):
            fail(f"{where} Y_targets", f"targets of shape {list(output.shape[1:])} per sample (the network's output)",
                 Text(f"targets of shape {list(y.shape[1:])}"), "Change the last layer's size or the targets.")
