"""RSA and linear CKA (deepscope.introspect.similarity)."""
from __future__ import annotations

import numpy as np
import pytest

import deepscope as tflearn
from deepscope.introspect.similarity import (compare_rdms, cka_matrix, linear_cka, plot_similarity_matrix, rdm,
                                             rsa_matrix)

RNG = np.random.default_rng(0)


def numpy_cka(x, y):
    """Reference: the feature-space formula of Kornblith et al. (2019)."""
    x, y = x - x.mean(0), y - y.mean(0)
    return np.linalg.norm(y.T @ x) ** 2 / (np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y))


def naive_ranks(v):
    """Reference average ranks, O(n^2): rank = #smaller + (#equal + 1) / 2."""
    return np.array([(v < a).sum() + ((v == a).sum() + 1) / 2 for a in v])


@pytest.mark.parametrize("metric", ["correlation", "euclidean", "cosine"])
def test_rdm_properties(metric):
    x = RNG.normal(size=(6, 2, 5))
    x[3] = x[1]  # identical samples
    d = rdm(x, metric)
    assert d.shape == (6, 6)
    np.testing.assert_allclose(d, d.T)
    np.testing.assert_array_equal(np.diag(d), 0)
    assert abs(d[1, 3]) < 1e-9 and (d[np.triu_indices(6, 1)] >= 0).all()


def test_rdm_values():
    x = RNG.normal(size=(5, 7))
    np.testing.assert_allclose(rdm(x, "correlation"), 1 - np.corrcoef(x), atol=1e-12)
    np.testing.assert_allclose(rdm(x, "euclidean"), np.linalg.norm(x[:, None] - x[None], axis=-1), atol=1e-9)
    with pytest.raises(ValueError, match="'correlation', 'euclidean', 'cosine'"):
        rdm(x, "manhattan")


def test_spearman_with_ties_matches_reference():
    a, b = rdm(RNG.normal(size=(8, 4))), rdm(RNG.normal(size=(8, 4)))
    a, b = np.round(a, 1), np.round(b, 1)  # many ties
    iu = np.triu_indices(8, 1)
    ref = np.corrcoef(naive_ranks(a[iu]), naive_ranks(b[iu]))[0, 1]
    assert compare_rdms(a, b) == pytest.approx(ref, abs=1e-12)
    assert compare_rdms(a, b, "pearson") == pytest.approx(np.corrcoef(a[iu], b[iu])[0, 1], abs=1e-12)
    assert compare_rdms(a, a) == pytest.approx(1.0)
    monotone = np.exp(a) - 1  # Spearman only sees the order
    np.fill_diagonal(monotone, 0)
    assert compare_rdms(a, monotone) == pytest.approx(1.0)


def test_compare_rdms_errors():
    with pytest.raises(ValueError, match="same samples"):
        compare_rdms(np.zeros((4, 4)), np.zeros((5, 5)))
    with pytest.raises(ValueError, match="square"):
        compare_rdms(np.zeros((4, 3)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="'spearman', 'pearson'"):
        compare_rdms(np.zeros((4, 4)), np.zeros((4, 4)), "kendall")


@pytest.mark.parametrize("features", [5, 40])  # narrow (feature form) and wide (Gram form)
def test_linear_cka_properties(features):
    x = RNG.normal(size=(20, features))
    y = np.tanh(x @ RNG.normal(size=(features, 6))) + 0.1 * RNG.normal(size=(20, 6))
    assert linear_cka(x, x) == pytest.approx(1.0)
    assert linear_cka(x, y) == pytest.approx(numpy_cka(x, y), rel=1e-9)
    q, _ = np.linalg.qr(RNG.normal(size=(features, features)))  # orthogonal
    assert linear_cka(x @ q * 3.7 + 2.0, y) == pytest.approx(linear_cka(x, y), rel=1e-9)
    skew = np.diag(np.linspace(0.05, 20, features)) @ RNG.normal(size=(features, features))  # invertible
    assert abs(linear_cka(x @ skew, y) - linear_cka(x, y)) > 1e-3
    assert 0 <= linear_cka(x, y) <= 1


def test_linear_cka_errors():
    with pytest.raises(ValueError, match="20 and 19 samples"):
        linear_cka(np.zeros((20, 3)), np.zeros((19, 3)))
    with pytest.raises(ValueError, match="finite"):
        linear_cka(np.full((4, 3), np.inf), np.zeros((4, 3)))


@pytest.fixture(scope="module")
def trained():
    tflearn.set_seed(0)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 6)).astype(np.float32)
    Y = np.eye(2)[(X[:, 0] * X[:, 1] > 0).astype(int)]
    net = tflearn.input_data([None, 6])
    net = tflearn.fully_connected(net, 16, activation="tanh", name="h1")
    net = tflearn.fully_connected(net, 8, activation="tanh", name="h2")
    net = tflearn.fully_connected(net, 2, activation="softmax", name="out")
    model = tflearn.DNN(tflearn.regression(net, learning_rate=0.05))
    model.fit(X, Y, n_epoch=3, batch_size=16, show_metric=False)
    return model, X


def test_cka_matrix_one_model(trained, tmp_path):
    model, X = trained
    result = cka_matrix(model, X, ["h1", "h2", "out"])
    m = result.matrix
    assert m.shape == (3, 3) and result.rows == result.cols == ["h1", "h2", "out"]
    np.testing.assert_allclose(np.diag(m), 1.0)
    np.testing.assert_allclose(m, m.T, atol=1e-12)
    from deepscope.introspect import activations
    acts = activations(model, X, ["h1", "out"])
    assert m[0, 2] == pytest.approx(numpy_cka(acts["h1"].astype(float), acts["out"].astype(float)), rel=1e-6)
    path = plot_similarity_matrix(result, None, tmp_path / "cka.png", "CKA")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cka_and_rsa_between_two_models(trained, tmp_path):
    model, X = trained
    tflearn.set_seed(1)
    other = tflearn.DNN(tflearn.fully_connected(tflearn.input_data([None, 6]), 4, activation="relu", name="z"))
    cross = cka_matrix(model, X, ["h1", "h2"], model_b=other)
    # a pass-through input layer is skipped by the network, so it records nothing and is left out
    assert cross.rows == ["h1", "h2"] and "z" in cross.cols and cross.matrix.shape == (2, len(cross.cols))
    assert np.all((cross.matrix >= 0) & (cross.matrix <= 1 + 1e-12))
    rsa = rsa_matrix(model, X, ["h1", "h2"])
    np.testing.assert_allclose(np.diag(rsa.matrix), 1.0)
    np.testing.assert_allclose(rsa.matrix, rsa.matrix.T, atol=1e-12)
    path = plot_similarity_matrix(rsa.matrix, ["h1", "h2"], tmp_path / "rsa.png", "RSA")
    assert path.stat().st_size > 0 and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="unknown"):
        cka_matrix(model, X, ["nope"])
    with pytest.raises(ValueError, match="2 row and 2 column labels"):
        plot_similarity_matrix(rsa.matrix, ["a"], tmp_path / "bad.png")
