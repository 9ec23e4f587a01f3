"""Tests for deepscope.data_utils (TFlearn's data helpers and as_tensor)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from deepscope.data_utils import (
    as_tensor, featurewise_std_normalization, featurewise_zero_center, load_csv, pad_sequences,
    samplewise_std_normalization, samplewise_zero_center, shuffle, to_categorical,
)


def test_to_categorical_matches_reference():
    y = [0, 2, 1, 2]
    expected = np.eye(3, dtype=np.float32)[y]
    np.testing.assert_array_equal(to_categorical(y, 3), expected)
    np.testing.assert_array_equal(to_categorical(y), expected)  # nb_classes = max + 1
    np.testing.assert_array_equal(to_categorical(np.array(y).reshape(-1, 1), 4)[:, :3], expected)
    np.testing.assert_array_equal(to_categorical(["0", "1"], 2), np.eye(2))  # load_csv labels
    assert to_categorical(y, 5).shape == (4, 5)


@pytest.mark.parametrize("y, n, match", [
    ([0, 3], 2, "nb_classes"), ([0.5, 1], None, "integer"), ([-1, 0], None, ">= 0"),
    (np.eye(3), None, "one-hot"), (["cat", "dog"], None, "strings"),
])
def test_to_categorical_errors(y, n, match):
    with pytest.raises((ValueError, TypeError), match=match):
        to_categorical(y, n)


def test_shuffle_same_permutation():
    np.random.seed(1)
    X = np.arange(20).reshape(10, 2)
    Y = np.arange(10)
    T = torch.arange(10)
    Xs, Ys, Ts = shuffle(X, list(Y), T)
    assert not np.array_equal(Ys, Y)
    np.testing.assert_array_equal(Xs[:, 0] // 2, Ys)
    np.testing.assert_array_equal(Ts.numpy(), Ys)
    assert isinstance(Ts, torch.Tensor)
    np.random.seed(1)
    np.testing.assert_array_equal(shuffle(X)[0], Xs)  # numpy's global RNG, like TFlearn
    with pytest.raises(ValueError, match="same length"):
        shuffle(X, Y[:5])


def test_pad_sequences_reference():
    seqs = [[1, 2, 3], [4], [], [5, 6, 7, 8, 9]]
    np.testing.assert_array_equal(
        pad_sequences(seqs), [[1, 2, 3, 0, 0], [4, 0, 0, 0, 0], [0] * 5, [5, 6, 7, 8, 9]])
    np.testing.assert_array_equal(
        pad_sequences(seqs, maxlen=3, padding="pre", truncating="pre", value=-1),
        [[1, 2, 3], [-1, -1, 4], [-1, -1, -1], [7, 8, 9]])
    np.testing.assert_array_equal(pad_sequences(seqs, maxlen=2)[3], [5, 6])
    assert pad_sequences(seqs).dtype == np.int32
    out = pad_sequences([np.ones((2, 3)), np.ones((1, 3))], dtype="float32")
    assert out.shape == (2, 2, 3) and out[1, 1].sum() == 0
    with pytest.raises(ValueError, match="padding"):
        pad_sequences(seqs, padding="middle")


def test_samplewise_and_featurewise():
    rng = np.random.default_rng(0)
    X = rng.normal(3, 2, size=(50, 4, 4, 3)).astype(np.float32)
    Z = samplewise_std_normalization(samplewise_zero_center(X))
    np.testing.assert_allclose(Z.reshape(50, -1).mean(1), 0, atol=1e-5)
    np.testing.assert_allclose(Z.reshape(50, -1).std(1), 1, atol=1e-4)
    Xc, mean = featurewise_zero_center(X)
    np.testing.assert_allclose(mean, X.mean(0))
    np.testing.assert_allclose(featurewise_zero_center(X, mean), Xc)
    Xs, std = featurewise_std_normalization(X)
    np.testing.assert_allclose(std, X.std(0))
    np.testing.assert_allclose(Xs, X / (X.std(0) + 1e-8), rtol=1e-6)
    # constant features give 0, not NaN
    assert np.isfinite(featurewise_std_normalization(np.zeros((3, 2)))[0]).all()


def test_load_csv(tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("survived,name,sex,age\n1,Ann,female,29\n0,Bob,male,40\n1,Cy,female,3\n")
    data, target = load_csv(str(path), target_column=0, categorical_labels=True, n_classes=2)
    assert data == [["Ann", "female", "29"], ["Bob", "male", "40"], ["Cy", "female", "3"]]
    np.testing.assert_array_equal(target, [[0, 1], [1, 0], [0, 1]])
    data, target = load_csv(str(path), columns_to_ignore=[1])
    assert target == ["29", "40", "3"] and data[0] == ["1", "female"]
    data, _ = load_csv(str(path), has_header=False)
    assert data[0] == ["survived", "name", "sex"]


def test_as_tensor_converts():
    t = as_tensor(np.arange(6, dtype=np.float64).reshape(3, 2))
    assert t.dtype == torch.float32 and t.shape == (3, 2)
    assert as_tensor([[1, 2], [3, 4]]).dtype == torch.float32
    assert as_tensor(np.array([0., 2., 1.]), dtype="int64").tolist() == [0, 2, 1]
    assert as_tensor(torch.tensor([1, 2]), dtype="int64").dtype == torch.int64
    assert as_tensor(["1.5", "2"]).tolist() == [1.5, 2.0]  # numeric strings, as np.array(.., float)
    assert as_tensor([torch.zeros(2, 3), torch.ones(2, 3)]).shape == (2, 2, 3)
    x = np.ones((4, 3), np.float32)
    assert as_tensor(x).data_ptr() == torch.from_numpy(x).data_ptr()  # no copy
    assert as_tensor(np.ones((5, 2))[::-1]).shape == (5, 2)  # negative strides


@pytest.mark.parametrize("data, kwargs, error, match", [
    (None, {}, TypeError, "got None"),
    ("data/train.npy", {}, TypeError, "the string"),
    ([["1", "female"], ["0", "male"]], {}, TypeError, "strings such as 'female'"),
    ([[1, 2, 3], [4, 5]], {}, ValueError, "sample 0 has length 3 but sample 1 has length 2"),
    (np.array([1.0, np.nan, 3.0]), {}, ValueError, "1 NaN/Inf value.*index \\[1\\]"),
    (torch.tensor([[1.0, float("inf")]]), {}, ValueError, "NaN/Inf"),
    (np.zeros((0, 3)), {}, ValueError, "empty"),
    (3.0, {}, ValueError, "single number"),
    (np.array([0.5, 1.0]), {"dtype": "int64"}, ValueError, "integer class indices"),
    (np.array([1 + 2j]), {}, TypeError, "complex"),
    ([torch.zeros(2), torch.zeros(3)], {}, ValueError, "one shape"),
    (np.array([{"a": 1}], dtype=object), {}, TypeError, "objects"),
])
def test_as_tensor_errors(data, kwargs, error, match):
    with pytest.raises(error, match=match) as info:
        as_tensor(data, name="X", where="DNN.fit", **kwargs)
    assert str(info.value).startswith("DNN.fit X: expected")
