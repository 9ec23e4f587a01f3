"""TFlearn's ``tflearn.utils`` helpers (the ones with a meaning on PyTorch), re-exported by ``deepscope.utils``:
name lookups, list and array helpers, TensorFlow-style argument formatting, walking a network's parents, and
reading one tensor of a model file. Graph walks work on deepscope's layer outputs (nodes know their parents)."""
from __future__ import annotations

import random
import string
from pathlib import Path

import numpy as np

from ._checks import Text, fail
from ._unsupported import tensorflow_only


def get_from_module(identifier, module_params, module_name, instantiate=False, kwargs=None):
    """``module_params[identifier]`` (or its lower-case), instantiated when asked; a non-string passes through."""
    if not isinstance(identifier, str):
        return identifier
    found = module_params.get(identifier) or module_params.get(identifier.lower())
    if not found:
        fail(f"{module_name} name", f"one of {sorted(k for k in module_params if not k.startswith('_'))[:30]}",
             identifier)
    return found(**(kwargs or {})) if instantiate else found


def get_incoming_shape(incoming) -> list:
    """The shape of a layer output (TFlearn's, batch None), a tensor or an array, as a list."""
    shape = getattr(incoming, "shape", None)
    if shape is None:
        shape = np.shape(incoming)
    return list(shape)


def get_tensor_parents(tensor) -> list:
    """The layer outputs a layer output is computed from (its direct parents)."""
    return list(getattr(tensor, "parents", []))


def get_all_tensor_parents(tensor) -> list:
    """Every layer output ``tensor`` depends on (parents, their parents, ...), without repeats."""
    found, stack = [], list(get_tensor_parents(tensor))
    while stack:
        node = stack.pop()
        if all(node is not f for f in found):
            found.append(node)
            stack.extend(get_tensor_parents(node))
    return found


def get_tensor_parents_placeholders(tensor) -> list:
    """The network inputs (``input_data`` nodes) ``tensor`` depends on."""
    nodes = [tensor, *get_all_tensor_parents(tensor)]
    return [n for n in nodes if hasattr(n, "parents") and not n.parents]


_CHILDREN_WHY = "a deepscope layer output records its parents, not its children (no global graph)"
_CHILDREN_INSTEAD = "walk DNN.net.nodes (in order) and keep the nodes whose parents include yours"
get_tensor_children = tensorflow_only("tflearn.utils", "get_tensor_children", _CHILDREN_WHY, _CHILDREN_INSTEAD)
get_all_tensor_children = tensorflow_only("tflearn.utils", "get_all_tensor_children", _CHILDREN_WHY, _CHILDREN_INSTEAD)
get_tensor_children_placeholders = tensorflow_only("tflearn.utils", "get_tensor_children_placeholders", _CHILDREN_WHY,
                                                   _CHILDREN_INSTEAD)
check_restore_tensor = tensorflow_only("tflearn.utils", "check_restore_tensor", "it filters TensorFlow variables for "
                                       "a Saver", "layers made with restore=False keep their weights in DNN.load")
fix_saver = tensorflow_only("tflearn.utils", "fix_saver", "it patches TensorFlow Saver collections before saving",
                            "nothing: DNN.save writes safetensors")


def read_tensor_in_checkpoint(tensor_name, checkpoint_path):
    """One tensor of a deepscope model file (``'layers.dense.weight'``), as numpy, without building the model."""
    from safetensors import safe_open
    path = str(checkpoint_path) if Path(checkpoint_path).is_file() else f"{checkpoint_path}.safetensors"
    try:
        with safe_open(path, framework="np") as file:
            names = list(file.keys())
            if tensor_name not in names:
                fail("read_tensor_in_checkpoint tensor_name", f"one of {names[:20]}", tensor_name)
            return file.get_tensor(tensor_name)
    except OSError as exc:
        fail("read_tensor_in_checkpoint checkpoint_path", "a model file written by DNN.save", Text(
            f"{checkpoint_path!r} ({exc})"), error=FileNotFoundError)


def to_list(data):
    """None stays None; a list or tuple as it is; anything else in a one-item list."""
    if data is None:
        return None
    return data if isinstance(data, (list, tuple)) else [data]


def standarize_data(data):
    """TFlearn's spelling: a list of numpy arrays (a dict as it is; None stays None)."""
    if data is None or isinstance(data, dict):
        return data
    return [np.asarray(x) for x in data] if isinstance(data, (list, tuple)) else [np.asarray(data)]


def standarize_dict(d):
    """The dict's list values as numpy arrays, in place."""
    for key, value in d.items():
        if isinstance(value, list):
            d[key] = np.asarray(value)


def del_duplicated(values) -> list:
    """The items without repeats (by equality), in order."""
    kept = []
    for value in values:
        if value not in kept:
            kept.append(value)
    return kept


def make_batches(samples_size, batch_size) -> list[tuple[int, int]]:
    """``(start, stop)`` of each batch of ``batch_size`` over ``samples_size`` samples."""
    count = -(-int(samples_size) // int(batch_size))
    return [(i * batch_size, min(samples_size, (i + 1) * batch_size)) for i in range(count)]


def slice_array(X, start=None, stop=None):
    """Rows ``start:stop`` (or the indices ``start``) of an array, or of each array of a list."""
    pick = (lambda a: a[start]) if hasattr(start, "__len__") else (lambda a: a[start:stop])  # noqa: E731
    return [pick(x) for x in X] if isinstance(X, list) else pick(X)


def get_dict_first_element(input_dict):
    """The first value of a dict (None when empty)."""
    return next(iter(input_dict.values()), None)


def get_tensor_with_parent_name(tensor) -> str:
    """``'<parent name>_<name>'`` of a layer output (its name alone without a parent)."""
    parents = get_tensor_parents(tensor)
    return f"{parents[0].name}_{tensor.name}" if parents else tensor.name


def format_scope_name(scope_name, prefix, suffix) -> str:
    """``prefix/scope_name/suffix`` (slashes added where missing)."""
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    if suffix and not suffix.startswith("/"):
        suffix = "/" + suffix
    return f"{prefix}{scope_name}{suffix}"


def check_scope_path(scope_name) -> str:
    """The scope path with doubled slashes made single."""
    return scope_name.replace("//", "/")


def feed_dict_builder(X, Y, net_inputs, net_targets) -> dict:
    """``{input name: X array, target name: Y array}`` from arrays, lists or dicts (TFlearn's feed dict; names of
    ``input_data`` and ``regression`` layers, or the layers themselves)."""
    def pair(data, layers, what):
        names = [getattr(layer, "name", layer) for layer in to_list(layers) or []]
        if data is None:
            return {}
        if isinstance(data, dict):
            return {getattr(k, "name", k): v for k, v in data.items()}
        arrays = data if isinstance(data, (list, tuple)) and len(names) > 1 else [data]
        if len(arrays) != len(names):
            fail(f"feed_dict_builder {what}", f"{len(names)} arrays (one per layer {names})",
                 Text(f"{len(arrays)} arrays"))
        return dict(zip(names, arrays))
    return {**pair(X, net_inputs, "X"), **pair(Y, net_targets, "Y")}


def is_none(value) -> bool:
    """``value is None`` (safe for numpy arrays)."""
    return value is None


def id_generator(size=6, chars=string.ascii_uppercase + string.digits) -> str:
    """A random string of ``size`` characters from ``chars``."""
    return "".join(random.choice(chars) for _ in range(size))


def check_dir_name(dir_path) -> str:
    """The folder path ending with ``'/'``."""
    if not isinstance(dir_path, str):
        fail("check_dir_name dir_path", "a folder path (str)", Text(type(dir_path).__name__), error=TypeError)
    return dir_path if not dir_path or dir_path.endswith("/") else dir_path + "/"


def _tf_form(value, ndim: int, where: str, ones: bool) -> list:
    if isinstance(value, int) and not isinstance(value, bool):
        inner = [value] * ndim
    elif isinstance(value, (list, tuple)) and len(value) == ndim:
        inner = list(value)
    elif ones and isinstance(value, (list, tuple)) and len(value) == ndim + 2:
        return list(value)
    else:
        fail(where, f"an int or {ndim} values" + (f" (or {ndim + 2})" if ones else ""), value, error=TypeError)
    return [1, *inner, 1] if ones else inner


def autoformat_kernel_2d(strides) -> list:
    """TensorFlow's ``[1, h, w, 1]`` from an int, 2 or 4 values."""
    return _tf_form(strides, 2, "autoformat_kernel_2d strides", True)


def autoformat_filter_conv2d(fsize, in_depth, out_depth) -> list:
    """TensorFlow's filter shape ``[rows, cols, in_depth, out_depth]``."""
    return [*_tf_form(fsize, 2, "autoformat_filter_conv2d fsize", False), in_depth, out_depth]


def autoformat_padding(padding) -> str:
    """``'SAME'`` or ``'VALID'``."""
    if padding not in ("same", "SAME", "valid", "VALID"):
        fail("autoformat_padding padding", "'same' or 'valid'", padding)
    return padding.upper()


def autoformat_filter_conv3d(fsize, in_depth, out_depth) -> list:
    """TensorFlow's 3-D filter shape ``[d, rows, cols, in_depth, out_depth]``."""
    return [*_tf_form(fsize, 3, "autoformat_filter_conv3d fsize", False), in_depth, out_depth]


def autoformat_stride_3d(strides) -> list:
    """TensorFlow's ``[1, d, h, w, 1]`` from an int, 3 or 5 values."""
    return _tf_form(strides, 3, "autoformat_stride_3d strides", True)


def autoformat_kernel_3d(kernel) -> list:
    """TensorFlow's ``[1, d, h, w, 1]`` from an int, 3 or 5 values."""
    return _tf_form(kernel, 3, "autoformat_kernel_3d kernel", True)


def validate_func(x, allow_none=True):
    """A clear error unless ``x`` is a function (or None when allowed)."""
    if not (allow_none and x is None) and not callable(x):
        fail("validate_func x", "a function" + (" or None" if allow_none else ""), x, error=TypeError)


def validate_dim(x, max_dim=None, min_dim=None, var_name="var"):
    """A clear error unless ``x`` has between ``min_dim`` and ``max_dim`` dimensions."""
    dim = np.ndim(x)
    if max_dim is not None and max_dim == min_dim and dim != max_dim:
        fail(var_name, f"{max_dim}-D data", Text(f"{dim}-D"))
    if min_dim is not None and dim < min_dim:
        fail(var_name, f"at least {min_dim}-D data", Text(f"{dim}-D"))
    if max_dim is not None and dim > max_dim:
        fail(var_name, f"at most {max_dim}-D data", Text(f"{dim}-D"))


def prepare_X(X, target_ndim, max_dim=None, min_dim=None, debug_msg="Data"):
    """``X`` brought to ``target_ndim`` dimensions (leading axes added, trailing size-1 axes dropped), and its
    original number of dimensions."""
    validate_dim(X, max_dim, min_dim, debug_msg)
    ndim = np.ndim(X)
    X = np.asarray(X)
    while X.ndim < target_ndim:
        X = X[None]
    while X.ndim > target_ndim:
        if X.shape[-1] != 1:
            fail(debug_msg, f"{target_ndim}-D data (or extra axes of size 1)", Text(f"shape {X.shape}"))
        X = X[..., 0]
    return X, ndim
