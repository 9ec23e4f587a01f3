"""TFlearn's data helpers (``tflearn.data_utils``) on numpy, plus ``as_tensor``.

These work on whole arrays before training (numpy in, numpy out), as in TFlearn.
``as_tensor`` is the one door through which user data becomes a torch tensor: it turns
lists / numpy arrays / tensors into a float32 (or int64) tensor and explains what is wrong
with data it cannot take (strings, ragged lists, NaN/Inf, empty arrays).
"""
from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from deepscope._checks import Text as _Text
from deepscope._checks import check_choice, check_int, fail
from deepscope.image_utils import ImagePreloader, LabelPreloader, build_hdf5_image_dataset, image_preloader
from deepscope.image_files import (convert_color, directory_to_samples, get_img_channel,
                                   image_dirs_to_samples, load_image, pil_to_nparray, random_flip_leftright,
                                   random_flip_updown, resize_image)
from deepscope.text_utils import (VocabularyProcessor, chars_to_dictionary, random_sequence_from_string,
                                  random_sequence_from_textfile, string_to_semi_redundant_sequences,
                                  textfile_to_semi_redundant_sequences)

_EPSILON = 1e-8

__all__ = [
    "to_categorical", "shuffle", "pad_sequences", "samplewise_zero_center",
    "samplewise_std_normalization", "featurewise_zero_center",
    "featurewise_std_normalization", "load_csv", "as_tensor",
    "chars_to_dictionary", "string_to_semi_redundant_sequences", "textfile_to_semi_redundant_sequences",
    "random_sequence_from_string", "random_sequence_from_textfile", "image_preloader", "build_hdf5_image_dataset",
    "ImagePreloader", "LabelPreloader", "Preloader", "VocabularyProcessor", "load_image", "resize_image",
    "convert_color", "pil_to_nparray", "get_img_channel", "directory_to_samples", "image_dirs_to_samples",
    "build_image_dataset_from_dir", "random_flip_leftright", "random_flip_updown", "is_array", "get_num_features",
    "get_num_classes", "get_num_sample", "get_max", "get_mean", "get_std",
    "np",  # TFlearn's programs use np after `from tflearn.data_utils import *`
]


# ----------------------------------------------------------------------------- labels
def to_categorical(y: Any, nb_classes: int | None = None) -> np.ndarray:
    """Class indices -> one-hot rows (TFlearn's ``to_categorical``).

    Args:
        y: class indices, shape ``(N,)`` or ``(N, 1)``; ints, integer-valued floats or
            numeric strings (as ``load_csv`` returns them).
        nb_classes: number of classes; default ``max(y) + 1``.

    Returns:
        float32 array ``(N, nb_classes)``.
    """
    where = "to_categorical y"
    labels = _numeric_array(y, where)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1:
        fail(where, "a vector of class indices, shape (N,)",
             _Text(f"an array of shape {labels.shape}"),
             "If y is already one-hot, do not call to_categorical again.")
    if labels.size and not np.all(labels == np.round(labels)):
        bad = labels[labels != np.round(labels)][0]
        fail(where, "integer class indices", _Text(f"the non-integer value {bad}"))
    labels = labels.astype(np.int64)
    if labels.size and labels.min() < 0:
        fail(where, "class indices >= 0", _Text(f"the value {labels.min()}"))
    needed = int(labels.max()) + 1 if labels.size else 0
    if nb_classes is None:
        nb_classes = needed
    nb_classes = check_int(nb_classes, "to_categorical nb_classes")
    if needed > nb_classes:
        fail("to_categorical nb_classes", f"at least {needed} (largest label is {needed - 1})",
             nb_classes, "Pass nb_classes=max(y)+1 or leave it out.")
    out = np.zeros((labels.shape[0], nb_classes), dtype=np.float32)  # (N, nb_classes)
    out[np.arange(labels.shape[0]), labels] = 1.0
    return out


def shuffle(*arrs: Any) -> tuple:
    """Shuffle several arrays with one permutation along axis 0 (numpy's global RNG, as TFlearn).

    Args:
        *arrs: arrays, lists or tensors of the same length.

    Returns:
        A tuple of shuffled arrays (lists become numpy arrays; tensors stay tensors).
    """
    if not arrs:
        fail("shuffle", "at least one array", _Text("nothing"))
    n = len(arrs[0])
    for i, arr in enumerate(arrs):
        if len(arr) != n:
            fail(f"shuffle argument {i}", f"{n} samples like argument 0",
                 _Text(f"{len(arr)} samples"),
                 "All arrays must have the same length (e.g. X and Y).")
    perm = np.random.permutation(n)
    out = []
    for arr in arrs:
        if isinstance(arr, torch.Tensor):
            out.append(arr[torch.from_numpy(perm).to(arr.device)])
        else:
            out.append(np.asarray(arr)[perm])
    return tuple(out)


def pad_sequences(sequences: Sequence, maxlen: int | None = None, dtype: Any = "int32",
                  padding: str = "post", truncating: str = "post",
                  value: float = 0.0) -> np.ndarray:
    """Pad (or cut) every sequence to the same length (TFlearn / Keras ``pad_sequences``).

    Args:
        sequences: list of sequences (lists or arrays, possibly of different lengths).
        maxlen: target length; default the longest sequence.
        dtype: dtype of the result.
        padding: ``'post'`` pads at the end, ``'pre'`` at the start.
        truncating: ``'post'`` cuts the end of long sequences, ``'pre'`` the start.
        value: the padding value.

    Returns:
        Array ``(n_sequences, maxlen) + element_shape``.
    """
    check_choice(padding, "pad_sequences padding", ["post", "pre"])
    check_choice(truncating, "pad_sequences truncating", ["post", "pre"])
    seqs = [np.asarray(s) for s in sequences]
    lengths = [len(s) for s in seqs]
    if maxlen is None:
        maxlen = max(lengths) if lengths else 0
    else:
        maxlen = check_int(maxlen, "pad_sequences maxlen", minimum=0)
    elem_shape = next((s.shape[1:] for s in seqs if len(s)), ())
    x = np.full((len(seqs), maxlen) + tuple(elem_shape), value, dtype=dtype)
    for i, s in enumerate(seqs):
        if len(s) == 0 or maxlen == 0:
            continue
        trunc = s[:maxlen] if truncating == "post" else s[-maxlen:]
        if trunc.shape[1:] != tuple(elem_shape):
            fail(f"pad_sequences sequences[{i}]", f"elements of shape {tuple(elem_shape)}",
                 _Text(f"elements of shape {trunc.shape[1:]}"))
        if padding == "post":
            x[i, :len(trunc)] = trunc
        else:
            x[i, maxlen - len(trunc):] = trunc
    return x


# ----------------------------------------------------------------------------- normalization
def _float_samples(X: Any) -> tuple[np.ndarray, tuple[int, ...]]:
    """``X`` as a float array (float64 kept, else float32) and the axes of one sample."""
    X = np.asarray(X)
    X = X.astype(np.float64 if X.dtype == np.float64 else np.float32, copy=False)
    return X, tuple(range(1, X.ndim))


def samplewise_zero_center(X: Any) -> np.ndarray:
    """Subtract from each sample its own mean (over all its values).

    Note: TFlearn took the mean along axis 1 of each sample; here it is the whole sample,
    which is what the name says and works for ``(N, F)`` data too. A new array is returned.

    Args:
        X: array ``(N, ...)``.

    Returns:
        float array of the same shape.
    """
    X, axes = _float_samples(X)
    return X - X.mean(axis=axes, keepdims=True)


def samplewise_std_normalization(X: Any) -> np.ndarray:
    """Divide each sample by its own standard deviation (+1e-8); see ``samplewise_zero_center``.

    Args:
        X: array ``(N, ...)``.

    Returns:
        float array of the same shape.
    """
    X, axes = _float_samples(X)
    return X / (X.std(axis=axes, keepdims=True) + _EPSILON)


def featurewise_zero_center(X: Any, mean: Any = None):
    """Subtract the per-feature mean over samples (axis 0), as TFlearn.

    Args:
        X: array ``(N, ...)``.
        mean: a mean to use; if None it is computed from ``X``.

    Returns:
        ``X - mean``, or the tuple ``(X - mean, mean)`` when the mean was computed here.
    """
    X = np.asarray(X)
    if mean is None:
        mean = X.mean(axis=0)
        return X - mean, mean
    return X - mean


def featurewise_std_normalization(X: Any, std: Any = None):
    """Divide by the per-feature standard deviation over samples (axis 0), as TFlearn.

    1e-8 is added to the std so constant features (e.g. MNIST borders) give 0, not NaN.

    Args:
        X: array ``(N, ...)``.
        std: a std to use; if None it is computed from ``X``.

    Returns:
        ``X / std``, or the tuple ``(X / std, std)`` when the std was computed here.
    """
    X = np.asarray(X)
    if std is None:
        std = X.std(axis=0)
        return X / (std + _EPSILON), std
    return X / (np.asarray(std) + _EPSILON)


# ----------------------------------------------------------------------------- files
def load_csv(filepath: str, target_column: int = -1, columns_to_ignore: Sequence[int] | None = None,
             has_header: bool = True, categorical_labels: bool = False,
             n_classes: int | None = None):
    """Read a CSV file into rows of strings and a target column (TFlearn's ``load_csv``).

    Args:
        filepath: path of the CSV file.
        target_column: index of the label column (negative counts from the end).
        columns_to_ignore: indices (in the file's columns) to drop from the data.
        has_header: skip the first line.
        categorical_labels: one-hot encode the labels with ``to_categorical``.
        n_classes: number of classes for ``categorical_labels``.

    Returns:
        ``(data, target)``: ``data`` a list of rows (lists of str, editable as in TFlearn's
        examples); ``target`` a list of str, or a float32 ``(N, n_classes)`` array.
    """
    ignore = set(columns_to_ignore or [])
    data, target = [], []
    with open(filepath, newline="") as f:
        rows = csv.reader(f)
        if has_header:
            next(rows, None)
        for line, row in enumerate(rows, start=2 if has_header else 1):
            if not row:
                continue
            width = len(row)
            t = target_column + width if target_column < 0 else target_column
            if not 0 <= t < width:
                fail(f"load_csv target_column (line {line} of {filepath})",
                     f"a column index between {-width} and {width - 1}", target_column)
            ign = {c + width if c < 0 else c for c in ignore}
            target.append(row[t])
            data.append([v for j, v in enumerate(row) if j != t and j not in ign])
    if categorical_labels:
        target = to_categorical(target, n_classes)
    return data, target


# ----------------------------------------------------------------------------- tensors
def _numeric_array(data: Any, where: str) -> np.ndarray:
    """``data`` as a numeric numpy array, or a clear error (strings, objects, ragged lists)."""
    if isinstance(data, (str, bytes)):
        fail(where, "an array of numbers", _Text(f"the string {data[:60]!r}"),
             "Load the file first (e.g. numpy.load or load_csv) and pass the array.", TypeError)
    if isinstance(data, torch.Tensor):
        data = data.detach().cpu().numpy()
    try:
        arr = np.asarray(data)
    except ValueError:
        fail(where, "a rectangular array (every sample the same shape)",
             _Text(f"a ragged list ({_ragged_hint(data)})"),
             "Pad sequences with pad_sequences(...) or resize samples to one shape.")
    if arr.dtype.kind in "USO":
        try:
            arr = arr.astype(np.float64)
        except (ValueError, TypeError):
            bad = next((v for v in arr.reshape(-1) if not _is_number(v)), None)
            bad = bad.item() if isinstance(bad, np.generic) else bad
            kind = "strings" if arr.dtype.kind in "US" or isinstance(bad, str) else "objects"
            fail(where, "numbers", _Text(f"{kind} such as {bad!r} (dtype {arr.dtype})"),
                 "Convert text columns to numbers first (e.g. 'female' -> 1.0), "
                 "and make every sample the same shape.", TypeError)
    if arr.dtype.kind == "c":
        fail(where, "real numbers", _Text(f"complex values (dtype {arr.dtype})"),
             "Pass x.real, x.imag or abs(x).", TypeError)
    return arr


def _is_number(v: Any) -> bool:
    try:
        float(v)
        return True
    except (TypeError, ValueError):
        return False


def _ragged_hint(data: Any) -> str:
    try:
        lengths = [len(x) for x in data]
    except TypeError:
        return "mixed scalars and sequences"
    first = lengths[0]
    j = next((i for i, n in enumerate(lengths) if n != first), None)
    if j is None:
        return "samples of the same length but different inner shapes"
    return f"sample 0 has length {first} but sample {j} has length {lengths[j]}"


def as_tensor(data: Any, name: str = "X", where: str | None = None, dtype: str = "float32",
              device: Any = None) -> torch.Tensor:
    """User data -> a torch tensor, with clear errors for what cannot be used.

    Args:
        data: list, numpy array or tensor with the batch on axis 0.
        name: the argument's name, for messages ("X", "Y", "validation_set").
        where: who asks, for messages ("DNN.fit").
        dtype: ``'float32'`` (inputs, one-hot targets) or ``'int64'`` (class indices;
            integer-valued floats are accepted).
        device: where the tensor goes (default: stays where it is / CPU).

    Returns:
        A tensor ``(N, ...)`` of the asked dtype (numpy float32 input shares memory).
    """
    check_choice(dtype, "as_tensor dtype", ["float32", "int64"])
    label = f"{where} {name}" if where else name
    if data is None:
        fail(label, "an array of samples", None, "Pass your data (numpy array, list or tensor).",
             TypeError)
    if isinstance(data, (list, tuple)) and data and all(isinstance(d, torch.Tensor) for d in data):
        shapes = {tuple(d.shape) for d in data}
        if len(shapes) > 1:
            fail(label, "tensors of one shape", _Text(f"tensors of shapes {sorted(shapes)[:3]}"),
                 "Resize or pad the samples to one shape.")
        data = torch.stack(list(data))
    if isinstance(data, torch.Tensor):
        t = data.detach()
        if t.is_complex():
            fail(label, "real numbers", _Text(f"a complex tensor ({t.dtype})"),
                 "Pass x.real or x.abs().", TypeError)
    else:
        arr = _numeric_array(data, label)
        if dtype == "float32":
            arr = arr.astype(np.float32, copy=False)
        elif arr.dtype.kind in "iub":
            arr = arr.astype(np.int64, copy=False)
        t = torch.as_tensor(arr if arr.ndim == 0 else np.ascontiguousarray(arr))
    if t.ndim == 0:
        fail(label, "an array with the samples on axis 0", _Text(f"the single number {t.item()!r}"),
             "Wrap it in a list, or reshape to (n_samples, ...).")
    if t.numel() == 0:
        fail(label, "at least one sample", _Text(f"an empty array of shape {tuple(t.shape)}"),
             "Check that the data loaded correctly (e.g. the file path and filters).")
    if t.is_floating_point():
        if dtype == "float32":
            t = t.float()
        # a sum is finite only if every element is; it reads X once instead of allocating a boolean
        # copy (20x faster on MNIST); an overflowing sum falls back to the exact test
        if not bool(torch.isfinite(t.sum())):
            finite = torch.isfinite(t)
            if not bool(finite.all()):
                bad = (~finite).nonzero()[0].tolist()
                count = int((~finite).sum())
                fail(label, "finite numbers",
                     _Text(f"{count} NaN/Inf value(s), the first at index {bad}"),
                     "Remove or impute missing values (e.g. numpy.nan_to_num) before training.")
    if dtype == "int64":
        if t.is_floating_point():
            frac = t != torch.round(t)
            if bool(frac.any()):
                first = frac.nonzero()[0].tolist()
                fail(label, "integer class indices",
                     _Text(f"the value {t[tuple(first)].item()} at {first}"),
                     "Pass integer labels, or one-hot labels with dtype='float32'.")
        t = t.long()
    elif not t.is_floating_point():
        t = t.float()
    return t if device is None else t.to(device)


# ----------------------------------------------------------------------------- TFlearn's small helpers
class Preloader:
    """An array-like that applies ``function`` to ``array``'s items when indexed (TFlearn's base of the
    image and label preloaders): ``P[i]``, ``P[a:b]`` and ``P[[i, j]]`` (lists for slices and index lists)."""

    def __init__(self, array, function):
        if not callable(function):
            fail("Preloader function", "a function of one item", function, error=TypeError)
        self.array, self.function = array, function

    def __getitem__(self, index):
        if isinstance(index, (list, np.ndarray)):
            return [self.function(self.array[i]) for i in index]
        if isinstance(index, slice):
            return [self.function(item) for item in self.array[index]]
        return self.function(self.array[index])

    def __len__(self) -> int:
        return len(self.array)


def is_array(X) -> bool:
    """True for a numpy array or a list (TFlearn's test)."""
    return isinstance(X, (np.ndarray, list))


def _known(X, where: str):
    if is_array(X) or isinstance(X, torch.Tensor):
        return X
    fail(where, "a numpy array, list or tensor", _Text(type(X).__name__), error=TypeError)


def get_num_features(X) -> int:
    """The size of the last dimension."""
    return list(np.shape(_known(X, "get_num_features X")))[-1]


def get_num_classes(Y) -> int:
    """The largest integer label plus one."""
    return int(np.max(np.asarray(_known(Y, "get_num_classes Y")))) + 1


def get_num_sample(X) -> int:
    """The number of samples (first dimension)."""
    return int(np.shape(_known(X, "get_num_sample X"))[0])


def get_max(X):
    """``np.max(X)``."""
    return np.max(X)


def get_mean(X):
    """``np.mean(X)``."""
    return np.mean(X)


def get_std(X):
    """``np.std(X)``."""
    return np.std(X)


def build_image_dataset_from_dir(directory, dataset_file="my_tflearn_dataset.npz", resize=None, convert_gray=None,
                                 filetypes=None, shuffle_data=False, categorical_Y=False):
    """Images of a class-per-subfolder directory, cached in ``dataset_file`` (``.npz``: never a pickle; a
    ``.pkl`` name is written as ``.pkl.npz``). Images of one size stack into one array.

    Returns:
        ``(X, Y)``.
    """
    path = Path(str(dataset_file) if str(dataset_file).endswith(".npz") else f"{dataset_file}.npz")
    if path.is_file():
        with np.load(path, allow_pickle=False) as cached:
            return cached["X"], cached["Y"]
    X, Y = image_dirs_to_samples(directory, resize, convert_gray, filetypes)
    X, Y = np.asarray(X, dtype=np.float32), np.asarray(Y)
    if categorical_Y:
        Y = to_categorical(Y, int(Y.max()) + 1)
    if shuffle_data:
        X, Y = shuffle(X, Y)
    partial = path.with_name(path.name + ".part.npz")  # atomic: a killed run leaves no half-written cache
    np.savez(partial, X=X, Y=Y)
    os.replace(partial, path)
    return X, Y
