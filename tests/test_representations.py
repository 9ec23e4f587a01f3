"""The representation analyses (decoding, dimensionality, shape metrics, selectivity, t-SNE, crossnobis,
brain.compare) against their references: scikit-learn, scipy, rsatoolbox, and known answers."""
from __future__ import annotations

import numpy as np
import pytest

import deepscope as tflearn
from deepscope import brain
from deepscope.introspect import (canonical_correlations, decode, effective_dimensionality, eigenspectrum,
                                  layer_decoding, layer_dimensionality, layer_features, layer_selectivity,
                                  participation_ratio, plot_decoding, plot_dimensionality, plot_selectivity,
                                  powerlaw_exponent, procrustes_distance, pwcca, selectivity, shape_matrix, sparseness,
                                  svcca, two_nn)
from deepscope.introspect.visualize import embed

sklearn = pytest.importorskip("sklearn")


def blobs(n=120, classes=3, features=10, separation=2.0, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    centers = rng.normal(size=(classes, features)) * separation
    return centers[y] + rng.normal(size=(n, features)), y


def small_cnn(seed=0):
    tflearn.set_seed(seed)
    net = tflearn.input_data(shape=[None, 16, 16, 3])
    net = tflearn.conv_2d(net, 8, 3, activation="relu")
    net = tflearn.max_pool_2d(net, 2)
    net = tflearn.fully_connected(net, 16, activation="relu")
    net = tflearn.fully_connected(net, 4, activation="softmax")
    return tflearn.DNN(tflearn.regression(net))


# -- decoding --------------------------------------------------------------------------------------
def test_decoding_equals_a_plain_scikit_learn_loop():
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.preprocessing import StandardScaler

    x, y = blobs(separation=0.6)
    expected = []
    for train, test in StratifiedKFold(5, shuffle=True, random_state=3).split(x, y):
        scaler = StandardScaler().fit(x[train])
        probe = LogisticRegression(C=0.5, max_iter=1000).fit(scaler.transform(x[train]), y[train])
        expected.append((probe.predict(scaler.transform(x[test])) == y[test]).mean())
    result = decode(x, y, n_folds=5, C=0.5, seed=3)
    np.testing.assert_allclose(result.folds, expected, atol=1e-12)
    assert result.accuracy == pytest.approx(np.mean(expected))
    assert result.chance == pytest.approx(1 / 3, abs=0.02)


def test_decoding_permutation_test_separates_signal_from_shuffled_labels():
    x, y = blobs(separation=2.0)
    informative = decode(x, y, n_permutations=19, seed=0)
    assert informative.accuracy > 0.9 and informative.p_value == pytest.approx(1 / 20)
    noise = decode(np.random.default_rng(1).normal(size=x.shape), y, n_permutations=99, seed=0)
    assert abs(noise.accuracy - noise.chance) < 0.2 and noise.p_value > 0.05
    assert len(noise.null) == 99 and abs(noise.null.mean() - noise.chance) < 0.05  # the null sits at chance


def test_decoding_bad_inputs():
    x, y = blobs()
    with pytest.raises(ValueError, match="decode labels"):
        decode(x, y[:-1])
    with pytest.raises(ValueError, match="at least 2 classes"):
        decode(x, np.zeros(len(x)))
    with pytest.raises(ValueError, match="decode n_folds"):
        decode(x[:9], y[:9], n_folds=5)
    with pytest.raises(ValueError, match="finite"):
        decode(np.full_like(x, np.nan), y)


# -- dimensionality --------------------------------------------------------------------------------
def data_with_spectrum(spectrum, n=600, seed=0):
    """Samples whose covariance eigenvalues are exactly ``spectrum``."""
    rng = np.random.default_rng(seed)
    k = len(spectrum)
    u, _ = np.linalg.qr(rng.normal(size=(n, k)) - rng.normal(size=(n, k)).mean(0))
    u = u - u.mean(0)
    u, _ = np.linalg.qr(u)  # orthonormal and centered columns
    rotation, _ = np.linalg.qr(rng.normal(size=(k, k)))
    return u @ np.diag(np.sqrt(np.asarray(spectrum) * (n - 1))) @ rotation.T


def test_participation_ratio_and_effective_dimensionality_on_known_spectra():
    spectrum = np.array([5.0, 3.0, 1.0, 0.5, 0.25])
    x = data_with_spectrum(spectrum)
    np.testing.assert_allclose(eigenspectrum(x), spectrum, rtol=1e-9)
    assert participation_ratio(x) == pytest.approx(spectrum.sum() ** 2 / np.sum(spectrum ** 2), rel=1e-9)
    p = spectrum / spectrum.sum()
    assert effective_dimensionality(x) == pytest.approx(np.exp(-np.sum(p * np.log(p))), rel=1e-9)
    flat = data_with_spectrum(np.ones(8))
    assert participation_ratio(flat) == pytest.approx(8.0) and effective_dimensionality(flat) == pytest.approx(8.0)


def test_powerlaw_exponent_recovers_alpha():
    ranks = np.arange(1, 201)
    assert powerlaw_exponent(ranks ** -1.3, (11, 500)) == pytest.approx(1.3, abs=1e-9)
    x = data_with_spectrum(ranks[:150] ** -1.0, n=400)
    assert powerlaw_exponent(eigenspectrum(x), (5, 150)) == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(ValueError, match="at least 3 positive eigenvalues"):
        powerlaw_exponent(ranks[:5] ** -1.0)


def test_cross_validated_spectrum_removes_noise_that_does_not_repeat():
    rng = np.random.default_rng(0)
    signal = data_with_spectrum(np.arange(1, 41) ** -1.0, n=2000)
    a = signal + 0.1 * rng.normal(size=signal.shape)
    b = signal + 0.1 * rng.normal(size=signal.shape)
    plain = powerlaw_exponent(eigenspectrum(a), (2, 40))
    crossed = powerlaw_exponent(eigenspectrum(a, b), (2, 40))
    assert abs(crossed - 1.0) < 0.1 < abs(plain - 1.0)


def test_two_nn_finds_the_dimension_of_a_flat_manifold():
    rng = np.random.default_rng(0)
    for d in (2, 5):
        points = rng.uniform(size=(2000, d)) @ rng.normal(size=(d, 30))  # a d-dim patch in 30 dimensions
        assert two_nn(points) == pytest.approx(d, rel=0.12)


# -- shape metrics ---------------------------------------------------------------------------------
def test_procrustes_distance_is_rotation_invariant_and_agrees_with_scipy():
    from scipy.spatial import procrustes

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(50, 6)), rng.normal(size=(50, 6))
    q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    assert procrustes_distance(a, 3.0 * a @ q + 7.0) == pytest.approx(0.0, abs=1e-6)
    disparity = procrustes(a, b)[2]  # 1 - nuclear^2 after centering and unit norm
    nuclear = np.sqrt(1 - disparity)
    assert procrustes_distance(a, b) == pytest.approx(np.arccos(nuclear), abs=1e-9)
    assert procrustes_distance(a, b, "euclidean") == pytest.approx(np.sqrt(2 - 2 * nuclear), abs=1e-9)
    c = rng.normal(size=(50, 4))  # a different width is padded with zero units
    assert procrustes_distance(a, c) == pytest.approx(procrustes_distance(c, a))
    assert procrustes_distance(a, c) <= procrustes_distance(a, b) + procrustes_distance(b, c) + 1e-12


def test_canonical_correlations_equal_scikit_learn_cca():
    from sklearn.cross_decomposition import CCA

    rng = np.random.default_rng(0)
    shared = rng.normal(size=(500, 3))
    a = shared @ rng.normal(size=(3, 5)) + 0.5 * rng.normal(size=(500, 5))
    b = shared @ rng.normal(size=(3, 4)) + 0.8 * rng.normal(size=(500, 4))
    ours = canonical_correlations(a, b)
    cca = CCA(n_components=3, scale=False, max_iter=20000, tol=1e-14).fit(a, b)
    xs, ys = cca.transform(a, b)
    theirs = [np.corrcoef(xs[:, k], ys[:, k])[0, 1] for k in range(3)]
    np.testing.assert_allclose(ours[:3], theirs, atol=1e-6)
    q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    assert svcca(a, a @ q) == pytest.approx(1.0) and pwcca(a, a @ q * 2) == pytest.approx(1.0)
    assert pwcca(a, rng.normal(size=(500, 4))) < 0.2


def test_shape_matrix_over_layers_and_seeds():
    x = np.random.default_rng(0).uniform(size=(40, 16, 16, 3)).astype("float32")
    one, two = small_cnn(0), small_cnn(1)
    same = shape_matrix(one, x, ["FullyConnected", "FullyConnected_1"])
    assert np.allclose(np.diag(same.matrix), 0.0, atol=1e-6)
    seeds = shape_matrix(one, x, ["FullyConnected"], model_b=two, layers_b=["FullyConnected"], metric="cca")
    assert seeds.matrix.shape == (1, 1) and 0 < seeds.matrix[0, 0] <= 1
    with pytest.raises(ValueError, match="shape_matrix metric"):
        shape_matrix(one, x, metric="cka")


# -- selectivity -----------------------------------------------------------------------------------
def test_selectivity_equals_a_per_unit_loop():
    x, y = blobs(n=90, classes=3, features=7, separation=1.0)
    s = selectivity(x, y)
    for unit in range(7):
        best = -np.inf
        for c in range(3):
            inside, outside = x[y == c, unit], x[y != c, unit]
            d = (inside.mean() - outside.mean()) / np.sqrt((inside.var(ddof=1) + outside.var(ddof=1)) / 2)
            if d > best:
                best, preferred = d, c
        assert s.d_prime[unit] == pytest.approx(best, rel=1e-9) and s.preferred[unit] == preferred
    assert sparseness(np.eye(5), 0) == pytest.approx(np.ones(5))  # each unit answers one stimulus
    assert sparseness(np.ones((5, 3)), 0) == pytest.approx(np.zeros(3))  # every stimulus alike
    assert s.population.shape == (90,) and s.lifetime.shape == (7,)


# -- t-SNE -----------------------------------------------------------------------------------------
def test_tsne_is_scikit_learns():
    from sklearn.manifold import TSNE

    x, _ = blobs(n=60)
    ours = embed(x, "tsne", perplexity=10, seed=4)
    theirs = TSNE(2, perplexity=10, init="pca", random_state=4).fit_transform(x)
    np.testing.assert_allclose(ours, theirs, atol=1e-6)
    with pytest.raises(ValueError, match="embed perplexity"):
        embed(x, "tsne", perplexity=100)


# -- crossnobis against rsatoolbox -----------------------------------------------------------------
def test_crossnobis_and_noise_precision_equal_rsatoolbox():
    rsatoolbox = pytest.importorskip("rsatoolbox")
    from rsatoolbox.data.noise import prec_from_residuals

    rng = np.random.default_rng(0)
    runs, conditions, channels = 4, 6, 10
    patterns = rng.normal(size=(conditions, channels))
    data = patterns[None] + rng.normal(size=(runs, conditions, channels)) * 0.7
    residuals = (data - data.mean(0, keepdims=True)).reshape(-1, channels)
    ours_precision = brain.noise_precision(residuals)
    np.testing.assert_allclose(ours_precision, prec_from_residuals(residuals.copy()), atol=1e-9)
    for method in ("diag", "full"):
        np.testing.assert_allclose(brain.noise_precision(residuals, method),
                                   prec_from_residuals(residuals.copy(), method=method), atol=1e-9)
    order = rng.permutation(runs * conditions)  # the rows in any order, with their labels
    flat = data.reshape(-1, channels)[order]
    cond = np.tile(np.arange(conditions), runs)[order]
    run = np.repeat(np.arange(runs), conditions)[order]
    dataset = rsatoolbox.data.Dataset(flat, obs_descriptors={"conds": cond, "runs": run})
    for noise in (None, ours_precision):
        theirs = rsatoolbox.rdm.calc_rdm(dataset, descriptor="conds", method="crossnobis", cv_descriptor="runs",
                                         noise=noise).get_matrices()[0]
        ours, labels = brain.crossnobis_rdm(flat, cond, run, noise=noise)
        np.testing.assert_allclose(ours, theirs, atol=1e-9)
        assert list(labels) == list(range(conditions))
    same, _ = brain.crossnobis_rdm(data)
    np.testing.assert_allclose(same, brain.crossnobis_rdm(flat, cond, run)[0], atol=1e-12)
    with pytest.raises(ValueError, match="at least 2 runs"):
        brain.crossnobis_rdm(data[:1])
    with pytest.raises(ValueError, match="every condition measured in every run"):
        brain.crossnobis_rdm(flat[1:], cond[1:], run[1:])


def test_crossnobis_is_unbiased_where_euclidean_distances_grow_with_noise():
    rng = np.random.default_rng(0)
    same = np.zeros((8, 5, 40)) + rng.normal(size=(8, 5, 40))  # five conditions, one pattern (0), noise only
    cv, _ = brain.crossnobis_rdm(same)
    plain = ((same.mean(0)[:, None] - same.mean(0)[None]) ** 2).mean(-1)
    upper = np.triu_indices(5, 1)
    assert abs(cv[upper].mean()) < 0.05 < plain[upper].mean()


# -- layers of a network, memory bounded -----------------------------------------------------------
def test_layer_features_reduce_wide_layers_to_principal_components_and_keep_narrow_ones_whole():
    x = np.random.default_rng(0).uniform(size=(30, 16, 16, 3)).astype("float32")
    model = small_cnn()
    whole = tflearn.introspect.activations(model, x)
    feats = layer_features(model, x, max_features=64, batch_size=7)
    assert feats["Conv2D"].shape == (30, 29) and feats.projected["Conv2D"] == 16 * 16 * 8  # 30 centered samples: rank 29
    np.testing.assert_allclose(feats["FullyConnected"], whole["FullyConnected"], atol=1e-6)
    sketched, full = tflearn.introspect.rdm(feats["Conv2D"], "euclidean"), tflearn.introspect.rdm(whole["Conv2D"], "euclidean")
    upper = np.triu_indices(30, 1)
    np.testing.assert_allclose(sketched[upper], full[upper], rtol=1e-4)  # N <= max_features: distances exact
    few = layer_features(model, x, ["Conv2D"], max_features=10, batch_size=7)["Conv2D"]  # fitted on 14 samples
    assert few.shape == (30, 10)
    variance = lambda v: np.sum((v - v.mean(0)) ** 2)  # noqa: E731
    assert 0.3 < variance(few) / variance(whole["Conv2D"].reshape(30, -1)) <= 1.0


def test_layer_analyses_and_their_figures(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(60, 16, 16, 3)).astype("float32")
    labels = np.arange(60) % 3
    x[labels == 1, :8] += 0.8  # a category the layers can see
    model = small_cnn()
    dec = layer_decoding(model, x, labels, n_folds=3)
    assert set(dec.results) >= {"Conv2D", "FullyConnected"} and dec.results["Conv2D"].accuracy > dec.results["Conv2D"].chance + 0.2
    dims = layer_dimensionality(model, x)
    assert all(row["participation_ratio"] >= 1 for row in dims.rows)
    sel = layer_selectivity(model, x, labels, layers=["FullyConnected"])
    assert sel.table()[0]["layer"] == "FullyConnected"
    for plot, result in ((plot_decoding, dec), (plot_dimensionality, dims), (plot_selectivity, sel)):
        path = plot(result, tmp_path / f"{plot.__name__}.png")
        assert path.stat().st_size > 5000
    with pytest.raises(TypeError, match="plot_decoding result"):
        plot_decoding(dims, tmp_path / "x.png")


# -- one call: every layer against every region ----------------------------------------------------
@pytest.fixture(scope="module")
def data(shared_datasets):
    from deepscope.datasets import kriegeskorte92
    if not (shared_datasets / "kriegeskorte92").is_dir():
        pytest.skip("kriegeskorte92 not in the shared datasets")
    return kriegeskorte92.load_data(shared_datasets)


def test_compare_equals_layer_rsa_and_layer_encoding_on_the_92_images(data, tmp_path):
    model = small_cnn()
    stimuli = brain.stimuli_for(model, data.images)
    human = data.human_it_subjects_rdms()
    population = brain.simulate_v1(data.images, n_units=40, n_repeats=4, mean_rate=0.3, seed=0)
    layers = ["Conv2D", "FullyConnected"]
    result = brain.compare(model, stimuli, rdms={"human IT": human, "monkey IT": data.monkey_it},
                           responses={"V1 (simulated)": population.responses}, labels=data.animate, layers=layers,
                           n_bootstrap=50, n_folds=5)
    rsa = brain.layer_rsa(model, stimuli, {"human IT": human, "monkey IT": data.monkey_it}, layers=layers,
                          n_bootstrap=50)
    np.testing.assert_array_equal(result.rsa.scores, rsa.scores)
    np.testing.assert_array_equal(result.rsa.ci_low, rsa.ci_low)
    acts = tflearn.introspect.activations(model, stimuli, layers)
    for layer in layers:
        direct = brain.encoding_scores(acts[layer], population.responses, 5, labels=data.animate)
        assert result.encoding.results["V1 (simulated)"][layer].median_normalized == pytest.approx(
            direct.median_normalized, abs=1e-12)
    rows = result.rows
    assert {r["analysis"] for r in rows} == {"rsa", "encoding", "decoding"}
    assert len(rows) == 2 * 2 + 2 + 2 and len(result.best()) == 4
    assert "best layer per region" in result.table()
    page = result.report(tmp_path / "compare.html").read_text()
    assert "Best layer per region" in page and "data:image/png;base64" in page
    assert result.plot(tmp_path / "compare.png").stat().st_size > 10000
    with pytest.raises(ValueError, match="one row per stimulus"):
        brain.compare(model, stimuli, responses={"V1": population.responses[:50]})
    with pytest.raises(ValueError, match="rdms=, responses= or labels="):
        brain.compare(model, stimuli)


# -- over seeds ------------------------------------------------------------------------------------
def test_an_analysis_over_a_studys_seeds(tmp_path):
    from deepscope.introspect import across_seeds, plot_across_seeds
    from deepscope.sweep import Fit, Study

    x, y = blobs(n=90, classes=3, features=6, separation=1.5)
    onehot = np.eye(3, dtype="float32")[y]

    def build(units):
        net = tflearn.input_data(shape=[None, 6])
        net = tflearn.fully_connected(net, units, activation="relu", name="hidden")
        net = tflearn.fully_connected(net, 3, activation="softmax", name="out")
        return tflearn.regression(net, learning_rate=0.1)

    study = Study("seeds", Fit(build, x.astype("float32"), onehot, n_epoch=3), {"units": [8]}, seeds=(0, 1, 2),
                  root=tmp_path, verbose=False)
    study.run()
    models = study.trained_models({"units": 8})
    assert len(models) == 3
    summary = across_seeds(layer_decoding, models, x, y, layers=["hidden", "out"], n_folds=3)
    rows = {r["layer"]: r for r in summary.table()}
    per_seed = summary.values("accuracy")["hidden"]
    assert rows["hidden"]["n_seeds"] == 3 and rows["hidden"]["accuracy_mean"] == pytest.approx(np.mean(per_seed))
    assert rows["hidden"]["accuracy_sd"] == pytest.approx(np.std(per_seed, ddof=1))
    assert plot_across_seeds(summary, "accuracy", tmp_path / "seeds.png").stat().st_size > 5000
    with pytest.raises(KeyError, match="trained_models params"):
        study.trained_models({"units": 9})
    with pytest.raises(ValueError, match="at least 2 models"):
        across_seeds(layer_decoding, models[:1], x, y)


def test_projector_writes_tensorboards_embedding_files(tmp_path):
    from deepscope.introspect import projector

    x = np.random.default_rng(0).uniform(size=(20, 16, 16, 3)).astype("float32")
    folder = projector(small_cnn(), x, "FullyConnected", tmp_path / "logs", labels=np.arange(20) % 4)
    config = (folder / "projector_config.pbtxt").read_text()
    assert "FullyConnected" in config and "sprite.png" in config
    [embedding] = [p for p in folder.rglob("tensors.tsv")]
    assert len(embedding.read_text().splitlines()) == 20
    assert (embedding.parent / "metadata.tsv").read_text().split() == [str(i % 4) for i in range(20)]
    with pytest.raises(ValueError, match="projector images"):
        projector(small_cnn(), x, "FullyConnected", tmp_path / "other", images=x[:5])


def test_pls_encoding_equals_a_scikit_learn_loop():
    from sklearn.cross_decomposition import PLSRegression
    from sklearn.model_selection import KFold
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 30))
    responses = (x @ rng.normal(size=(30, 6)))[:, None, :] + rng.normal(size=(80, 3, 6))  # 3 repeats, 6 units
    ours = brain.encoding_scores(x, responses, n_folds=4, regression="pls", pls_components=5)
    target, predictions = responses.mean(1), np.zeros((80, 6))
    for train, test in KFold(4, shuffle=True, random_state=0).split(x):
        scaler = StandardScaler().fit(x[train])
        pls = PLSRegression(5, scale=False).fit(scaler.transform(x[train]), target[train])
        predictions[test] = pls.predict(scaler.transform(x[test]))
    np.testing.assert_allclose(ours.predictions, predictions, atol=1e-9)
    assert (ours.r > 0.5).all() and np.isnan(ours.alphas).all()
    with pytest.raises(ValueError, match="encoding_scores regression"):
        brain.encoding_scores(x, responses, regression="lasso")
