"""Recording what the layers of a network compute, through forward hooks in a context manager.

::

    with Recorder(model, ["Conv2D", "FullyConnected"]) as rec:
        model.predict(X)
    rec["Conv2D"]          # (N, H, W, C) in the user's layout, on the CPU

    acts = activations(model, X)          # every layer at once: {name: numpy array}

The hooks are removed when the ``with`` block ends, so the network is untouched afterwards.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np
import torch
from torch import nn

from .._checks import Text, fail
from ..utils import RECORDING_BATCH_SIZE, evaluation_pass


def network_of(model) -> nn.Module:
    """The ``nn.Module`` of a ``DNN`` (its ``net``), or the module itself."""
    net = getattr(model, "net", model)
    if not isinstance(net, nn.Module):
        fail("introspect model", "a deepscope DNN or a torch.nn.Module", type(model).__name__, error=TypeError)
    return net


def layer_modules(model) -> dict[str, nn.Module]:
    """The network's layers by name: deepscope layer names (``'Conv2D_1'``) for a built network
    (without input layers that pass the data through unchanged), ``named_modules`` names for any
    other module."""
    net = network_of(model)
    layers = getattr(net, "layers", None)
    if isinstance(layers, nn.ModuleDict):  # (input layers that pass data through unchanged never run)
        return {name: m for name, m in layers.items() if not getattr(m, "is_noop", False)}
    return {name: m for name, m in net.named_modules() if name}


def resolve_layers(model, layers: Iterable[str] | str | None) -> dict[str, nn.Module]:
    """The named layers (all when ``layers`` is None), with a clear error for unknown names."""
    available = layer_modules(model)
    if layers is None:
        return available
    names = [layers] if isinstance(layers, str) else list(layers)
    unknown = [n for n in names if n not in available]
    if unknown:
        fail("introspect layers", "names of the network's layers (" + ", ".join(available) + ")",
             Text(f"unknown {unknown}"), "See model.summary() for the names.")
    return {n: available[n] for n in names}


def to_user_layout(t: torch.Tensor) -> torch.Tensor:
    """Internal NCHW feature maps -> NHWC (the user's layout); other ranks unchanged."""
    return t.permute(0, 2, 3, 1) if t.dim() == 4 else t


class Recorder:
    """Records the outputs of some layers while it is open (a context manager).

    Args:
        model: a ``DNN`` or ``nn.Module``.
        layers: layer names (default: every layer).
        keep: ``'cpu'`` copies each output to the CPU (default); ``'device'`` keeps it where it was
            computed, attached to the graph (for gradients, e.g. activation maximization).

    Each recorded layer's outputs of successive forward passes are concatenated on ``rec[name]``.
    """

    def __init__(self, model, layers=None, keep: str = "cpu"):
        self.modules = resolve_layers(model, layers)
        if keep not in ("cpu", "device"):
            fail("Recorder keep", "'cpu' or 'device'", keep)
        self.keep = keep
        self.outputs: dict[str, list[torch.Tensor]] = {name: [] for name in self.modules}
        self.handles = []

    def __enter__(self) -> "Recorder":
        for name, module in self.modules.items():
            self.handles.append(module.register_forward_hook(self._hook(name)))
        return self

    def __exit__(self, *exc) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles.clear()

    def _hook(self, name: str):
        def hook(module, inputs, output):
            if not isinstance(output, torch.Tensor):
                return
            output = to_user_layout(output)
            self.outputs[name].append(output.detach().cpu() if self.keep == "cpu" else output)
        return hook

    def __getitem__(self, name: str) -> torch.Tensor:
        if name not in self.outputs:
            fail("Recorder", "a recorded layer name (" + ", ".join(self.outputs) + ")", name)
        chunks = self.outputs[name]
        if not chunks:
            fail(f"Recorder[{name!r}]", "a forward pass inside the 'with' block", Text("nothing recorded"))
        return chunks[0] if len(chunks) == 1 else torch.cat(chunks)

    def clear(self) -> None:
        for chunks in self.outputs.values():
            chunks.clear()


def scores_of(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Per-class scores (N, K): the output layer's logits when the network has them."""
    out = net.logits(x) if hasattr(net, "logits") else net(x)
    return out.reshape(out.shape[0], -1)


class _StopForward(Exception):
    """Raised by a hook once the target layer has run: the rest of the network is skipped."""


def layer_output(net: torch.nn.Module, x: torch.Tensor, layer: str | None) -> torch.Tensor:
    """The output of ``layer`` on ``x`` in the user's layout, attached to the graph.

    ``layer=None`` gives the class scores (the output layer's logits, (N, K)).
    """
    if layer is None:
        return scores_of(net, x)
    module = resolve_layers(net, layer)[layer]

    def stop(mod, inputs, output):
        raise _StopForward

    with Recorder(net, [layer], keep="device") as rec:
        handle = module.register_forward_hook(stop)  # runs after the Recorder's hook
        try:
            net(x)
        except _StopForward:
            pass
        except RuntimeError as err:
            fail(f"layer {layer!r}", "an input size the layers before it accept",
                 Text(f"shape {tuple(x.shape)} ({err})"),
                 "Use the size the network was built for (for deep_dream: octaves=1).")
        finally:
            handle.remove()
        return rec[layer]


def unit_activation(act: torch.Tensor, unit: int, where: str) -> torch.Tensor:
    """Mean activation of channel / feature ``unit`` (the last dim in the user's layout), per sample."""
    units = act.shape[-1]
    if isinstance(unit, bool) or not isinstance(unit, (int, np.integer)) or not 0 <= unit < units:
        fail(where, f"an integer in [0, {units - 1}] (the layer has {units} units / channels)", unit)
    return act[..., int(unit)].reshape(act.shape[0], -1).mean(1)  # (N,)


def activations(model, X, layers=None, batch_size: int = RECORDING_BATCH_SIZE) -> dict[str, np.ndarray]:
    """Every (or the named) layer's output on ``X``, in evaluation mode.

    Args:
        model: a ``DNN`` (``X`` as for ``predict``) or an ``nn.Module`` (``X`` a tensor or array).
        X: the inputs.
        layers: layer names (default: all).
        batch_size: samples per forward pass.

    Returns:
        ``{layer name: array (N, ...)}`` in the user's layout (NHWC feature maps).
    """
    with Recorder(model, layers) as rec:
        forward_in_chunks(model, X, batch_size, "activations X")
    return {name: rec[name].float().numpy() for name in rec.outputs if rec.outputs[name]}


def forward_in_chunks(model, X, batch_size: int = RECORDING_BATCH_SIZE, where: str = "X") -> None:
    """Run ``model`` on ``X`` in evaluation mode, ``batch_size`` samples at a time (for hooks to record).

    Args:
        model: a ``DNN`` (``X`` as for ``predict``) or an ``nn.Module`` (``X`` a tensor or array).
        X: the inputs.
        where: the argument's name in errors.
    """
    if hasattr(model, "predict") and hasattr(model, "net"):
        xs, _ = model.prepare_data(X, None, where, "")
        with torch.no_grad():
            model._forward_batches(xs, batch_size)
        return
    net = network_of(model)
    x = torch.as_tensor(np.asarray(X) if not isinstance(X, torch.Tensor) else X, dtype=torch.float32)
    device = next((p.device for p in net.parameters()), torch.device("cpu"))
    with evaluation_pass(net):
        for i in range(0, x.shape[0], batch_size):
            net(x[i:i + batch_size].to(device))
