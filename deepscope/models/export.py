"""Export a trained model for inference outside deepscope: ONNX (``.onnx``, through ``torch.onnx``'s exporter)
or a ``torch.export`` program (``.pt2``). The exported graph is the network in evaluation mode (dropout off,
augmentation off, preprocessing in), its inputs in the user's layout (NHWC images), the batch size free; the export
is checked against ``DNN.predict`` on a random batch before it is kept.

ONNX needs ``onnx``, ``onnxscript`` (torch's exporter) and ``onnxruntime`` (to check the file):
``pip install 'deepscope[export]'``.
"""
from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .._checks import Text, check_choice, fail

FORMATS = ("onnx", "torch.export")


@dataclass
class ExportResult:
    """What :func:`export_model` wrote: the file, its format, and the largest difference from ``predict``."""

    path: str
    format: str
    max_abs_difference: float


def example_inputs(dnn, batch: int = 3, seed: int = 0) -> list[torch.Tensor]:
    """One random float32 batch per ``input_data`` (the user's layout), to trace and to check the export."""
    generator = torch.Generator().manual_seed(seed)
    shapes = [list(node.shape[1:]) for node in dnn.net.inputs] if hasattr(dnn.net, "inputs") else []
    if not shapes:
        fail("export", "a network built with input_data (its input shapes)", Text(type(dnn.net).__name__))
    return [torch.rand(batch, *shape, generator=generator) for shape in shapes]


def _quiet_exporter():
    """torch.onnx logs every optional op it skips (torchvision's): quiet while exporting."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "torch.onnx._internal.exporter._registration")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    return loggers, levels


def export_model(dnn, path, format=None, tolerance: float = 1e-5) -> ExportResult:  # noqa: A002 - the natural name
    """Write ``dnn`` for inference, check it against ``dnn.predict`` and return what was written.

    Args:
        dnn: a trained ``DNN``.
        path: the file; ``.onnx`` -> ONNX, ``.pt2`` -> torch.export (unless ``format`` says).
        format: ``'onnx'`` or ``'torch.export'`` (None: from the suffix).
        tolerance: the largest absolute difference from ``predict`` accepted on a random batch.

    Returns:
        :class:`ExportResult`.

    Raises:
        ImportError: ONNX asked for without ``onnx`` / ``onnxscript`` installed.
        ValueError: the exported model differs from ``predict`` by more than ``tolerance``.
    """
    path = Path(path)
    if format is None:
        suffix = path.suffix.lower()
        if suffix not in (".onnx", ".pt2"):
            fail("export path", "a file ending in .onnx (ONNX) or .pt2 (torch.export), or give format=", Text(
                repr(str(path))))
        format = "onnx" if suffix == ".onnx" else "torch.export"
    format = check_choice(format, "export format", FORMATS)
    net = dnn.net
    was_training = net.training
    net.eval()
    inputs = [x.to(dnn.device) for x in example_inputs(dnn)]
    batch = torch.export.Dim("batch", min=1)
    dynamic = (tuple({0: batch} for _ in inputs),)  # Network.forward(*inputs): one dict per input
    expected = dnn.predict(inputs[0].cpu().numpy() if len(inputs) == 1 else [x.cpu().numpy() for x in inputs])
    partial = path.with_name(f".{path.stem}.part{path.suffix}")  # same suffix: the writers check it
    try:
        with torch.no_grad():
            if format == "torch.export":
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", FutureWarning)
                    program = torch.export.export(net, tuple(inputs), dynamic_shapes=dynamic)
                    got = program.module()(*inputs)
                    torch.export.save(program, str(partial))
            else:
                got = _export_onnx(net, inputs, dynamic, partial)
    finally:
        net.train(was_training)
    difference = float(np.max(np.abs(np.asarray(got, dtype=np.float64) - expected))) if expected.size else 0.0
    if not difference <= tolerance:
        partial.unlink(missing_ok=True)
        raise ValueError(f"export: the {format} model differs from predict by {difference:.3g} (more than "
                         f"tolerance={tolerance}) on a random batch; it was not written. A layer may not export "
                         "exactly (a custom_layer, say): export with a larger tolerance, or keep the model file.")
    os.replace(partial, path)
    return ExportResult(str(path), format, difference)


def _export_onnx(net, inputs, dynamic, partial: Path) -> np.ndarray:
    """Write the ONNX file to ``partial``; its output on ``inputs`` (onnxruntime; else torch's reference run)."""
    for package in ("onnx", "onnxscript", "onnxruntime"):
        try:
            __import__(package)
        except ImportError:
            fail("export to ONNX", f"the {package!r} package (torch's ONNX exporter needs onnx and onnxscript; "
                 "onnxruntime checks the file)", None,
                 "pip install 'deepscope[export]' (or use a .pt2 file: torch.export, no extra package).",
                 error=ImportError)
    loggers, levels = _quiet_exporter()
    try:
        with warnings.catch_warnings():  # the exporter's notes on its own internals
            warnings.simplefilter("ignore")
            program = torch.onnx.export(net, tuple(inputs), dynamo=True, dynamic_shapes=dynamic, verbose=False)
    except Exception as exc:  # noqa: BLE001 - the exporter raises many kinds; say which layer kind failed
        fail("export to ONNX", "a network torch's ONNX exporter can trace", Text(f"{type(exc).__name__}: "
             f"{str(exc).splitlines()[0][:300]}"), "Try a .pt2 file (torch.export) instead.", error=RuntimeError)
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)
    program.save(str(partial))
    import onnxruntime
    session = onnxruntime.InferenceSession(str(partial), providers=["CPUExecutionProvider"])
    feed = {entry.name: x.cpu().numpy() for entry, x in zip(session.get_inputs(), inputs)}
    return session.run(None, feed)[0]
