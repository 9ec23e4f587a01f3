"""Save and load: safetensors weights with the network described as JSON in the file's header.

No pickle anywhere. Loading replays registered layer functions with the recorded arguments:
a file can name only layer functions and classes on an allowlist, so loading never executes
code from the file.
"""
from __future__ import annotations

from typing import Callable

import hashlib
import json
import re
import os
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load

from .._checks import fail
from .._io import atomic_write_bytes
from ..graph import LAYERS, NotSerializable, scope_path, to_json_value
from ..network import Network
from .config_objects import from_json_value

FORMAT = "deepscope"
VERSION = "1"  # the model-file format: bump it when a layer function's recorded arguments change meaning
# Older versions stay readable: MIGRATIONS[v] turns a version-v network description into version v+1's
# (applied in order by `migrate` before the network is rebuilt); add one with every new VERSION.
MIGRATIONS: dict[str, Callable[[dict], dict]] = {}
READABLE_VERSIONS = ("1", *MIGRATIONS)
# (tests/golden/ holds a file of every layer kind per version; tests/test_golden.py loads them all)
MAX_HEADER_BYTES = 64 * 1024 * 1024  # a larger header is refused (huge-allocation attack)


class ModelFileError(ValueError):
    """A model file that cannot be read: missing, corrupt, not deepscope's, or tampered."""


class WeightsNotFoundError(ModelFileError, KeyError):
    """A model file that lacks weights this network has (TensorFlow's ``NotFoundError`` when restoring)."""

    __str__ = ValueError.__str__  # (KeyError would quote the message)


def name_map_of(variable_name_map, scope_for_restore, verbose: bool = False):
    """TFlearn's ``DNN.load`` renaming as a function: a layer's name here -> its name in the file, or None (not
    restored).

    Args:
        variable_name_map: ``(pattern, replacement)`` (a regular expression substitution), a function, or None.
        scope_for_restore: restore only the layers inside this variable scope, read from the file without it.
        verbose: print each renaming.
    """
    if scope_for_restore is not None:
        if not isinstance(scope_for_restore, str) or not scope_for_restore:
            fail("load scope_for_restore", "the name of a variable scope, such as 'scopeA'", scope_for_restore)
        prefix = scope_for_restore.rstrip("/") + "/"
        rename = lambda name: name[len(prefix):] if name.startswith(prefix) else None  # noqa: E731
    elif isinstance(variable_name_map, tuple) and len(variable_name_map) == 2 and \
            all(isinstance(v, str) for v in variable_name_map):
        try:
            pattern = re.compile(variable_name_map[0])
        except re.error as exc:
            fail("load variable_name_map", "(regular expression, replacement)", variable_name_map, f"{exc}.")
        rename = lambda name: pattern.sub(variable_name_map[1], name)  # noqa: E731
    elif callable(variable_name_map):
        rename = variable_name_map
    elif variable_name_map is None:
        return None
    else:
        fail("load variable_name_map", "a (pattern, replacement) tuple of strings or a function of a name",
             variable_name_map, error=TypeError)

    def mapped(name: str):
        new = rename(name)
        if verbose and new is not None:
            print(f"Restoring {name} <- {new}")
        return new
    return mapped


def _rename_keys(own: dict, tensors: dict, name_map) -> tuple[dict, set]:
    """The file's tensors under this network's keys (``layers.<name>.<parameter>``) through ``name_map`` (a
    layer's name here -> its name in the file); and the keys of layers the map leaves out (not restored)."""
    renamed, skipped = {}, set()
    for key in own:
        head, _, rest = key.partition(".")
        layer, _, parameter = rest.partition(".")
        if head != "layers" or not parameter:
            if key in tensors:
                renamed[key] = tensors[key]
            continue
        in_file = name_map(layer)
        if in_file is None:
            skipped.add(key)
        elif f"layers.{in_file}.{parameter}" in tensors:
            renamed[key] = tensors[f"layers.{in_file}.{parameter}"]
    return renamed, skipped


def tensor_digest(tensors: dict, metadata: dict) -> str:
    """sha256 over every tensor (name, dtype, shape, bytes) and every metadata entry but ``sha256``:
    safetensors has no checksum of its own, so this detects a flipped byte anywhere in the file."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        digest.update(f"{name}|{t.dtype}|{list(t.shape)}|".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    for key in sorted(metadata):
        if key != "sha256":
            digest.update(f"{key}={metadata[key]}|".encode())
    return digest.hexdigest()


SAFETENSORS_DTYPES = {torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
                      torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
                      torch.uint8: "U8", torch.bool: "BOOL"}


def safetensors_bytes(tensors: dict, metadata: dict) -> bytes:
    """The safetensors file of ``tensors`` and ``metadata``, byte for byte the same for the same content.

    ``safetensors.torch.save`` orders the metadata by a Rust hash map (a different order in every
    process), so identical saves had different bytes and a model file's sha256 was not
    reproducible. This writes the same format (8-byte header length, JSON header padded with spaces
    to 8 bytes, little-endian tensor data) with keys sorted; ``safetensors`` reads it as usual.
    """
    header: dict = {"__metadata__": {k: metadata[k] for k in sorted(metadata)}} if metadata else {}
    chunks, offset = [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        if t.dtype not in SAFETENSORS_DTYPES:
            raise ValueError(f"save: tensor {name!r} has dtype {t.dtype}, which safetensors cannot store.")
        data = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": SAFETENSORS_DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text + b"".join(chunks)


def describe_network(dnn) -> dict:
    """The JSON description of a network: its layer calls, in order, and the output node.

    Nodes are numbered by position (not by the process-wide creation counter), so the same network
    has the same description, and its file the same bytes, whatever was built before it."""
    position = {node.id: i for i, node in enumerate(dnn.net.nodes)}
    nodes = []
    for node in dnn.net.nodes:
        call = node.call or {}
        scope, _, name = node.name.rpartition("/")  # a layer made inside variable_scope('s'): 's/name'
        nodes.append({"id": position[node.id], "name": name, **({"scope": scope} if scope else {}),
                      "fn": call.get("fn"),
                      "inputs": [position.get(i, i) for i in call.get("inputs", [])],
                      "list_input": call.get("list_input", False),
                      "args": {k: to_json_value(v, k) for k, v in call.get("args", {}).items()}})
    return {"nodes": nodes, "output": position[dnn.output_node.id]}


def _check_serializable(value, where: str) -> None:
    if isinstance(value, NotSerializable):
        raise ValueError(
            f"{where}: argument {value.argument}={value.value!r} cannot be written to JSON, so the model "
            f"could not be rebuilt from the file. Use a registered name (e.g. activation='relu') instead "
            f"of a Python object (a custom_layer function: deepscope.layers.core.register_custom_function(fn) "
            f"first), or save the weights only with torch / safetensors yourself."
        )
    if isinstance(value, list):
        for v in value:
            _check_serializable(v, where)
    if isinstance(value, dict):
        for v in value.values():
            _check_serializable(v, where)


def save_model(dnn, path, durable: bool = True) -> str:
    """Write ``path`` atomically: weights as safetensors, network + settings as JSON metadata.

    Args:
        dnn: the model.
        path: the file.
        durable: also fsync it (survives a power loss, not just a killed process; 10-40 ms).
    """
    if Path(path).is_dir():
        raise ValueError(f"save model_file: expected a file name such as 'model.safetensors', got the folder "
                         f"{str(path)!r}.")
    if not isinstance(dnn.net, Network):
        description = None
    else:
        description = describe_network(dnn)
        for node in description["nodes"]:
            _check_serializable(node["args"], f"save: layer '{node['name']}'")
    meta = {"format": FORMAT, "version": VERSION,
            "network": json.dumps(description),
            "training": json.dumps({"step": dnn.step, "epoch": dnn.epoch})}
    tensors = {k: v.detach().cpu().contiguous() for k, v in dnn.net.state_dict().items()}
    meta["sha256"] = tensor_digest(tensors, meta)
    atomic_write_bytes(path, safetensors_bytes(tensors, meta), durable=durable)
    return str(path)


def resolve_model_path(path) -> Path:
    """``path`` itself, or ``path + '.safetensors'`` (TFlearn's programs load ``'model.tfl.ckpt-500'``,
    the name they gave ``checkpoint_path``, without the extension the files are written with)."""
    path = Path(path)
    if path.is_file():
        return path
    with_suffix = Path(f"{path}.safetensors")
    if with_suffix.is_file():
        return with_suffix
    raise ModelFileError(f"model file {str(path)!r} does not exist. Save one with model.save(path).")


def read_file(path, expected_format: str = FORMAT) -> tuple[dict, dict]:
    """Read and validate a model file (or a checkpoint: ``expected_format``); returns ``(tensors, metadata)``."""
    path = resolve_model_path(path)
    with open(path, "rb") as f:
        head = f.read(8)
    if len(head) < 8:
        raise ModelFileError(f"model file {str(path)!r} is truncated ({len(head)} bytes).")
    header_size = int.from_bytes(head, "little")
    if header_size > MAX_HEADER_BYTES or header_size > os.path.getsize(path):
        raise ModelFileError(
            f"model file {str(path)!r} is not a valid safetensors file (header claims {header_size} bytes). "
            f"It may be a pickle (.pt/.pth/.ckpt), which deepscope refuses to load, or be corrupt.")
    try:
        data = path.read_bytes()
        tensors = st_load(data)
        from safetensors import safe_open
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise ModelFileError(f"model file {str(path)!r} is corrupt or not a safetensors file: {exc}") from None
    if meta.get("format") != expected_format:
        what = "a training checkpoint" if expected_format != FORMAT else "deepscope's save"
        raise ModelFileError(f"model file {str(path)!r} was not written by {what} "
                             f"(format {meta.get('format')!r}, expected {expected_format!r}).")
    if expected_format == FORMAT and meta.get("version") not in (*READABLE_VERSIONS, *MIGRATIONS):
        raise ModelFileError(f"model file {str(path)!r} has format version {meta.get('version')!r}; this deepscope "
                             f"reads versions {', '.join(READABLE_VERSIONS)}. Upgrade deepscope to load it.")
    if meta.get("sha256") != tensor_digest(tensors, meta):  # every file deepscope writes has one
        raise ModelFileError(f"model file {str(path)!r} is corrupt: its content does not match the sha256 "
                             f"recorded when it was saved, or the sha256 is missing (a changed byte or a "
                             f"tampered header).")
    return tensors, meta


def fresh_keys(net) -> tuple[str, ...]:
    """State-dict prefixes of the layers made with ``restore=False`` (``DNN.load`` skips them)."""
    layers = getattr(net, "layers", None)
    if not isinstance(layers, torch.nn.ModuleDict):
        return ()
    return tuple(f"layers.{name}." for name, m in layers.items() if getattr(m, "restore", True) is False)


def load_weights(dnn, path, weights_only: bool = False, name_map=None) -> None:
    """Load the weights of ``path`` into ``dnn`` (which must have the same architecture).

    Args:
        weights_only: TFlearn's meaning: only the trainable weights; buffers (batch-norm running
            averages, preprocessing statistics) and the step counter keep their current values.
        name_map: a layer's name here -> its name in the file, or None to leave the layer as it is
            (from :func:`name_map_of`); with a map, the file may hold more layers than this network.
    """
    tensors, meta = read_file(path)
    own = dnn.net.state_dict()
    kept = fresh_keys(dnn.net)  # layers made with restore=False keep their fresh weights (fine-tuning)
    if weights_only:
        kept = kept + tuple(name for name, _ in dnn.net.named_buffers(remove_duplicate=False))
    if name_map is not None:
        tensors, skipped = _rename_keys(own, tensors, name_map)
        kept = kept + tuple(sorted(skipped))
    tensors = {k: v for k, v in tensors.items() if not k.startswith(kept)} if kept else tensors
    missing = sorted(k for k in set(own) - set(tensors) if not k.startswith(kept))
    unexpected = sorted(set(tensors) - set(own))
    if missing:
        scoped = sorted({k.split(".")[1].rsplit("/", 1)[0] for k in missing if "/" in k.split(".")[1]})
        hint = (f" This network's layers are inside variable scope {scoped[0]!r}: load(path, "
                f"scope_for_restore={scoped[0]!r}) reads a file saved without it." if scoped else "")
        raise WeightsNotFoundError(
            f"model file {str(path)!r} does not match this network: missing {missing[:5]}"
            + (f", unexpected {unexpected[:5]}" if unexpected else "") + ". Build the same network, or use "
            "deepscope.load(path); a new layer (e.g. a new output layer for fine-tuning) takes restore=False." + hint)
    if unexpected:
        raise ModelFileError(
            f"model file {str(path)!r} does not match this network: unexpected {unexpected[:5]}. Build the same "
            "network, or use deepscope.load(path); variable_name_map= or scope_for_restore= load a part of a file.")
    for key, value in tensors.items():
        if tuple(value.shape) != tuple(own[key].shape):
            raise ModelFileError(
                f"model file {str(path)!r} does not fit this network: {key!r} has shape {tuple(value.shape)} "
                f"in the file and {tuple(own[key].shape)} here. Build the same layer sizes; a layer that "
                "should keep its new weights (a new output layer with another number of classes) takes "
                "restore=False.")
    try:
        dnn.net.load_state_dict({k: v.to(dnn.device) for k, v in tensors.items()}, strict=not kept)
    except RuntimeError as exc:  # anything else that does not fit
        raise ModelFileError(f"model file {str(path)!r} does not fit this network: {exc}") from None
    if weights_only:
        return
    try:
        training = json.loads(meta.get("training", "{}"))
        dnn.step, dnn.epoch = int(training.get("step", 0)), int(training.get("epoch", 0))
    except (ValueError, TypeError, AttributeError, RecursionError) as exc:
        raise ModelFileError(f"model file {str(path)!r} has damaged training metadata "
                             f"({type(exc).__name__}: {str(exc)[:200]}).") from None


def migrate(description: dict, version: str, source: str) -> dict:
    """The network description of a file of format ``version`` brought to the current ``VERSION``."""
    while version != VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise ModelFileError(f"model file {source!r} has format version {version!r}, which this deepscope "
                                 f"cannot migrate to version {VERSION}.")
        description, version = step(description), str(int(version) + 1)
    return description


def check_shapes_before_building(description: dict, tensors: dict, source: str) -> None:
    """Build the network on the meta device (no memory) and compare its parameter shapes with the
    file's tensors, so a tampered description (``n_units=10**12``) is refused before any allocation."""
    try:
        with torch.device("meta"):
            shapes = {k: tuple(v.shape) for k, v in Network(rebuild_network(description, source)).state_dict().items()}
    except ModelFileError:
        raise
    except Exception:  # a layer that cannot be built on the meta device: checked after the real build
        return
    stored = {k: tuple(v.shape) for k, v in tensors.items()}
    if shapes != stored:
        bad = sorted(k for k in set(shapes) | set(stored) if shapes.get(k) != stored.get(k))[:3]
        raise ModelFileError(
            f"model file {source!r}: the network description does not match the stored weights "
            f"({', '.join(f'{k}: described {shapes.get(k)}, stored {stored.get(k)}' for k in bad)}); "
            f"the file was changed after saving. Nothing was built.")


def rebuild_network(description: dict, source: str):
    """Replay the recorded layer calls; only registered layer functions can be called."""
    built = {}
    try:
        nodes, output_id = description["nodes"], description["output"]
        for entry in nodes:
            fn_name = entry["fn"]
            if fn_name not in LAYERS:
                raise ModelFileError(f"model file {source!r} names an unknown layer function {fn_name!r}.")
            fn = LAYERS.get(fn_name)
            args = {k: from_json_value(v) for k, v in entry["args"].items()}
            for name in (args.get("name"), entry.get("name") if "name" in args else None):
                if name is not None and (not isinstance(name, str) or not name or any(c in name for c in "./\\")):
                    raise ModelFileError(f"model file {source!r} names a layer {str(name)[:80]!r}: layer names are "
                                         "plain words (no '.', '/' or '\\'); the file was changed after saving.")
            if "name" in args and entry.get("name") is not None:
                # the name the layer ended up with (a sibling branch that is not part of this network
                # may have taken the requested one when it was built)
                args["name"] = entry["name"]
            parents = [built[i] for i in entry["inputs"]]
            scope = entry.get("scope")
            if scope is not None and (not isinstance(scope, str) or any(c in scope for c in ".\\")):
                raise ModelFileError(f"model file {source!r} names a variable scope {str(scope)[:80]!r}: scopes "
                                     "are plain words joined by '/'; the file was changed after saving.")
            with scope_path(scope):
                node = fn(parents if entry["list_input"] else parents[0], **args) if parents else fn(**args)
            built[entry["id"]] = node
        return built[output_id]
    except ModelFileError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, RecursionError) as exc:
        raise ModelFileError(f"model file {source!r}: the network description is invalid "
                             f"({type(exc).__name__}: {str(exc)[:200]}).") from None


def save_snapshot(dnn, checkpoint_path, step: int, max_checkpoints) -> str:
    """TFlearn-style snapshot ``<checkpoint_path>-<step>.safetensors``, keeping the newest ``max_checkpoints``."""
    path = Path(f"{checkpoint_path}-{step}.safetensors")
    save_model(dnn, path)
    if max_checkpoints:
        pattern = Path(checkpoint_path).name + "-*.safetensors"
        old = sorted(path.parent.glob(pattern), key=lambda p: _step_of(p))
        for stale in old[:-max_checkpoints]:
            stale.unlink(missing_ok=True)
    return str(path)


def _step_of(path: Path) -> int:
    try:
        return int(path.name.rsplit("-", 1)[1].split(".")[0])
    except (IndexError, ValueError):
        return -1
