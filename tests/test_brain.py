"""deepscope.brain on real neural data (the 92 images) and a simulated population: agreement with
rsatoolbox and scikit-learn, the README's reference figures, bootstrap tests, encoding that
recovers the simulated truth, representations over training, receptive fields, bad inputs."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

import deepscope as tflearn
from deepscope import brain
from deepscope.brain.rsa import correlate, resampled_pairs
from deepscope.datasets import kriegeskorte92
from deepscope.introspect import linear_cka, receptive_field


@pytest.fixture(scope="module")
def data(shared_datasets):
    if not (shared_datasets / "kriegeskorte92").is_dir():
        pytest.skip("kriegeskorte92 not in the shared datasets")
    return kriegeskorte92.load_data(shared_datasets)


def small_cnn():
    net = tflearn.input_data(shape=[None, 16, 16, 3])
    net = tflearn.conv_2d(net, 8, 3, activation="relu")
    net = tflearn.max_pool_2d(net, 2)
    net = tflearn.fully_connected(net, 16, activation="relu")
    net = tflearn.fully_connected(net, 4, activation="softmax")
    return tflearn.DNN(tflearn.regression(net))


# -- the data and the README's reference figures -------------------------------------------------
def test_loader_reads_the_checked_copy(data):
    assert data.images.shape == (92, 175, 175, 3) and data.images.dtype == np.uint8
    assert data.human_it.shape == (4, 2, 92, 92) and list(data.human_it_subjects) == ["BE", "KO", "SN", "TI"]
    assert data.animate.sum() == 48 and data.behaviour.shape == (16, 92, 92)


def test_a_damaged_copy_is_refused(data, tmp_path):
    for name in kriegeskorte92.SHA256:
        shutil.copy(data.folder / name, tmp_path / name)
    raw = bytearray((tmp_path / "rdms.npz").read_bytes())
    raw[len(raw) // 2] ^= 1
    (tmp_path / "rdms.npz").write_bytes(bytes(raw))
    with pytest.raises(tflearn.datasets.ChecksumError, match="rdms.npz"):
        kriegeskorte92.load_data(tmp_path)
    (tmp_path / "rdms.npz").unlink()
    with pytest.raises(FileNotFoundError, match="rsatoolbox"):
        kriegeskorte92.load_data(tmp_path)


@pytest.mark.parametrize("a, b, expected", [
    ("human_it_mean", "monkey_it", 0.439), ("human_it_mean", "animacy", 0.588),
    ("human_it_mean", "face_animate_inanimate_clusters", 0.622), ("human_it_mean", "human_evc", 0.354),
    ("human_it_mean", "v1", 0.039), ("monkey_it", "behaviour_mean", 0.394)])
def test_readme_rdm_correlations(data, a, b, expected):
    rdms = {"human_it_mean": data.human_it.astype(float).mean((0, 1)), "monkey_it": data.monkey_it,
            "human_evc": data.human_evc, "behaviour_mean": data.behaviour.mean(0), **data.models}
    assert brain.compare_to_brain(rdms[a], rdms[b], "spearman") == pytest.approx(expected, abs=5e-4)


def test_readme_noise_ceilings(data):
    """The README's figures pool subjects by the plain mean (MATLAB toolbox convention)."""
    assert brain.noise_ceiling(data.human_it_subjects_rdms(), pooling="mean") == pytest.approx((0.379, 0.661), abs=5e-4)
    assert brain.noise_ceiling(data.behaviour, pooling="mean") == pytest.approx((0.478, 0.575), abs=5e-4)


# -- agreement with rsatoolbox ------------------------------------------------------------------
@pytest.mark.parametrize("ours, theirs", [("spearman", "spearman"), ("pearson", "corr"), ("kendall_tau_a", "tau-a"),
                                         ("cosine_cov", "cosine_cov"), ("corr_cov", "corr_cov")])
def test_comparisons_and_noise_ceiling_agree_with_rsatoolbox(data, ours, theirs):
    rsatoolbox = pytest.importorskip("rsatoolbox")
    from rsatoolbox.inference import boot_noise_ceiling
    from rsatoolbox.rdm import RDMs, compare

    human = data.human_it_subjects_rdms()
    subjects = RDMs(brain.upper_vectors(human))
    models = [data.monkey_it, data.models["animacy"], data.human_evc.astype(float), data.models["hmax"]]
    reference = compare(RDMs(brain.upper_vectors(np.stack(models))), subjects, method=theirs).mean(1)
    assert [brain.compare_to_brain(m, human, ours) for m in models] == pytest.approx(reference, abs=1e-9)
    with pytest.warns(UserWarning) if theirs == "tau-a" else _nothing():
        lower, upper = boot_noise_ceiling(subjects, method=theirs)
    assert brain.noise_ceiling(human, ours) == pytest.approx((lower, upper), abs=1e-9)
    assert rsatoolbox is not None


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_a_bootstrap_sample_of_stimuli_matches_rsatoolbox_resampling(data):
    """Duplicated stimuli: rsatoolbox's subsample_pattern and our pair list give the same correlation."""
    pytest.importorskip("rsatoolbox")
    from rsatoolbox.rdm import RDMs, compare

    rng = np.random.default_rng(3)
    human = data.human_it_subjects_rdms()
    model = data.models["hmax"]
    for _ in range(3):
        drawn = rng.integers(0, 92, 92)
        columns = resampled_pairs(drawn, 92)
        ours = correlate(brain.upper_vectors(model[None])[:, columns], brain.upper_vectors(human)[:, columns],
                         "spearman").mean()
        theirs = compare(RDMs(brain.upper_vectors(model[None])).subsample_pattern("index", drawn),
                         RDMs(brain.upper_vectors(human)).subsample_pattern("index", drawn), method="spearman").mean()
        assert ours == pytest.approx(theirs, abs=1e-9)


def test_a_two_factor_bootstrap_sample_matches_rsatoolbox(data):
    """One sample of the bootstrap over subjects and stimuli together (rsatoolbox's ``bootstrap_sample``, as its
    ``eval_bootstrap`` / ``eval_dual_bootstrap`` draw them): our score of the drawn subjects and pairs equals its
    evaluation of the sample (Spearman and Pearson)."""
    pytest.importorskip("rsatoolbox")
    from rsatoolbox.inference.bootstrap import bootstrap_sample
    from rsatoolbox.rdm import RDMs, compare

    human = data.human_it_subjects_rdms()
    models = np.stack([data.models["hmax"], data.monkey_it])
    np.random.seed(7)  # rsatoolbox draws with numpy's global generator
    for method, theirs_method in (("spearman", "spearman"), ("pearson", "corr")):
        for _ in range(3):
            sample, rdm_idx, pattern_idx = bootstrap_sample(RDMs(brain.upper_vectors(human)))
            columns = resampled_pairs(np.asarray(pattern_idx), 92)
            ours = correlate(brain.upper_vectors(models)[:, columns],
                             brain.upper_vectors(human)[np.asarray(rdm_idx)][:, columns], method).mean(1)
            theirs = compare(RDMs(brain.upper_vectors(models)).subsample_pattern("index", pattern_idx), sample,
                             method=theirs_method).mean(1)
            np.testing.assert_allclose(ours, theirs, atol=1e-9)


# -- layers against regions -----------------------------------------------------------------------
def test_layer_rsa_scores_intervals_ceiling_and_a_layer_test(data):
    model = small_cnn()
    stimuli = brain.stimuli_for(model, data.images)
    assert stimuli.shape == (92, 16, 16, 3) and 0 <= stimuli.min() and stimuli.max() <= 1
    human = data.human_it_subjects_rdms()
    result = brain.layer_rsa(model, stimuli, {"hIT": human, "mIT": data.monkey_it}, n_bootstrap=200, seed=1)
    assert result.regions == ["hIT", "mIT"] and result.layers[0] == "InputData"
    for r, region in enumerate(result.regions):
        for i, layer in enumerate(result.layers):
            expected = brain.compare_to_brain(result.layer_rdms[layer], human if region == "hIT" else data.monkey_it)
            assert result.scores[r, i] == pytest.approx(expected, abs=1e-12)
            assert result.ci_low[r, i] < result.scores[r, i] + 0.05 and result.ci_high[r, i] > result.scores[r, i] - 0.05
    assert result.ceilings["hIT"] == pytest.approx(brain.noise_ceiling(human)) and result.ceilings["mIT"] is None
    a, b = result.layers[0], result.layers[-1]
    test = result.compare_layers("hIT", a, b)
    assert test["difference"] == pytest.approx(result.scores[0, 0] - result.scores[0, -1])
    assert 0 < test["p_one_sided"] <= 1 and test["ci"][0] <= test["ci"][1]
    assert "noise ceiling" in result.table()
    again = brain.layer_rsa(result.layer_rdms, None, {"hIT": human}, n_bootstrap=200, seed=1)
    assert np.allclose(again.bootstrap["hIT"], result.bootstrap["hIT"])


def test_a_model_equal_to_a_subject_beats_a_random_one_significantly(data):
    human = data.human_it_subjects_rdms()
    noise = np.random.default_rng(0).random((92, 92))
    noise = (noise + noise.T) / 2
    np.fill_diagonal(noise, 0)
    result = brain.layer_rsa({"mean of subjects": human.mean(0), "random": noise}, None, {"hIT": human},
                             n_bootstrap=300)
    test = result.compare_layers("hIT", "mean of subjects", "random")
    assert test["difference"] > 0.4 and test["p_one_sided"] < 0.01 and test["ci"][0] > 0


@pytest.mark.parametrize("bad, match", [
    (np.ones((5, 6)), "shape"), (np.ones((3, 3)), "zero diagonal"),
    (np.array([[0, 1, 2], [3, 0, 1], [2, 1, 0.]]), "symmetric"), (np.full((3, 3), np.nan), "finite"),
    ("rdm", "numeric")])
def test_bad_rdms_get_clear_errors(bad, match):
    with pytest.raises((ValueError, TypeError), match=match):
        brain.noise_ceiling(bad)


def test_stimulus_count_mismatch_is_named(data):
    with pytest.raises(ValueError, match="RDMs of the 92 stimuli"):
        brain.layer_rsa({"a": data.monkey_it}, None, {"x": data.monkey_it[:50, :50]})
    with pytest.raises(ValueError, match="at least 2 subjects"):
        brain.noise_ceiling(data.monkey_it)
    with pytest.raises(ValueError, match="method"):
        brain.compare_to_brain(data.monkey_it, data.monkey_it, "kendall")


# -- encoding -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def population(data):
    return brain.simulate_v1(data.images, n_units=60, n_repeats=4, mean_rate=0.3, seed=0)


def test_the_reliability_estimate_matches_the_true_ceiling(population):
    estimated = np.sqrt(np.clip(brain.reliability(population.responses), 0, None))
    assert np.median(estimated) == pytest.approx(np.median(population.true_ceiling), abs=0.03)


def test_encoding_recovers_the_true_normalized_fit(population):
    """Normalizing by the estimated noise ceiling recovers the correlation with the noise-free rates."""
    result = brain.encoding_scores(population.rates, population.responses)
    truth = np.array([np.corrcoef(result.predictions[:, u], population.rates[:, u])[0, 1]
                      for u in range(population.rates.shape[1])])
    assert result.median_normalized == pytest.approx(np.median(truth), abs=0.05)
    assert result.median_normalized > 0.5
    noise = brain.encoding_scores(np.random.default_rng(1).normal(size=(92, 300)), population.responses)
    assert noise.median_normalized < 0.1


def test_encoding_equals_a_plain_scikit_learn_loop(population):
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import KFold
    from sklearn.preprocessing import StandardScaler

    x, y = population.drive, population.responses.mean(1)
    predictions = np.zeros_like(y)
    for train, test in KFold(5, shuffle=True, random_state=0).split(x):
        scaler = StandardScaler().fit(x[train])
        ridge = RidgeCV(alphas=brain.encoding.ALPHAS, alpha_per_target=True).fit(scaler.transform(x[train]), y[train])
        predictions[test] = ridge.predict(scaler.transform(x[test]))
    result = brain.encoding_scores(x, population.responses)
    assert np.allclose(result.predictions, predictions)
    r = [np.corrcoef(predictions[:, u], y[:, u])[0, 1] for u in range(y.shape[1])]
    assert np.allclose(result.r, r)


def test_layer_encoding_map_and_bad_responses(data, population, tmp_path):
    model = small_cnn()
    stimuli = brain.stimuli_for(model, data.images)
    result = brain.layer_encoding(model, stimuli, {"V1 (simulated)": population.responses}, layers=["Conv2D", "FullyConnected"])
    assert result.median.shape == (1, 2) and result.best_layer("V1 (simulated)") in ("Conv2D", "FullyConnected")
    brain.plot_encoding(result, tmp_path / "enc.png")
    assert (tmp_path / "enc.png").stat().st_size > 5000
    with pytest.raises(ValueError, match="same stimuli"):
        brain.encoding_scores(np.ones((10, 3)), population.responses)
    with pytest.raises(ValueError, match="finite"):
        brain.encoding_scores(np.ones((92, 3)), np.full((92, 2, 3), np.nan))


# -- representations over training, CKA, receptive fields --------------------------------------------
def test_tracker_records_every_epoch_and_seeds_agree_with_themselves(data, tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPSCOPE_RUNS", str(tmp_path))
    X = np.random.default_rng(0).random((64, 16, 16, 3), dtype=np.float32)
    Y = np.eye(4, dtype=np.float32)[np.arange(64) % 4]
    folders = []
    for run in ("a", "b"):
        tflearn.set_seed(0)
        model = small_cnn()
        stimuli = brain.stimuli_for(model, data.images[:30])
        tracker = brain.RepresentationTracker(stimuli, brain_rdm=data.monkey_it[:30, :30])
        model.fit(X, Y, n_epoch=3, callbacks=tracker, run_id=run, diagnostics=False)
        folders.append(model.last_run.path)
    t = brain.load_trajectory(folders[0])
    assert list(t.epochs) == [0, 1, 2, 3] and t.rdms.shape == (4, len(t.layers), 30 * 29 // 2)
    assert np.isfinite(t.brain_rsa).all() and np.isnan(t.cka_previous[0]).all() and (t.cka_previous[1:] > 0).all()
    agreement = brain.seed_agreement(folders)
    assert agreement["final"] == pytest.approx(np.ones(len(t.layers)), abs=1e-6)
    brain.plot_trajectory(t, tmp_path / "t.png")
    assert (tmp_path / "t.png").stat().st_size > 5000
    assert brain.plot_drift(folders, tmp_path / "drift.png").stat().st_size > 10000  # moves and agreement, one figure
    page = tflearn.report(folders[0], tmp_path / "report.html").path.read_text()
    assert 'id="representations"' in page and "recorded at epochs 0, 1, 2, 3" in page  # the run report shows it


def test_debiased_cka_is_near_zero_for_independent_features_and_one_for_the_same():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(50, 2000)), rng.normal(size=(50, 2000))
    assert linear_cka(x, y) > 0.9  # the biased estimator's known inflation
    assert abs(linear_cka(x, y, debiased=True)) < 0.05
    q, _ = np.linalg.qr(rng.normal(size=(2000, 2000)))
    assert linear_cka(x, 3 * x @ q, debiased=True) == pytest.approx(1.0)
    many = rng.normal(size=(2000, 5))
    other = many @ rng.normal(size=(5, 5)) + 0.5 * rng.normal(size=(2000, 5))
    assert linear_cka(many, other, debiased=True) == pytest.approx(linear_cka(many, other), abs=0.01)


def test_receptive_field_recovers_a_linear_units_weights():
    net = tflearn.input_data(shape=[None, 8, 8, 1])
    net = tflearn.fully_connected(net, 3, activation="relu")
    model = tflearn.DNN(tflearn.regression(net))
    weights = model.net.layers["FullyConnected"].weight.detach().numpy()
    field = receptive_field(model, "FullyConnected", 1, n_samples=20000)
    assert field.shape == (8, 8, 1) and np.corrcoef(field.ravel(), weights[1])[0, 1] > 0.95
    with pytest.raises(ValueError, match="below 3"):
        receptive_field(model, "FullyConnected", 5)


def test_whitened_layer_rsa_uses_subject_intervals(data):
    rsatoolbox = pytest.importorskip("rsatoolbox")
    from rsatoolbox.rdm import RDMs, compare

    human = data.human_it_subjects_rdms()
    rdms = {"monkey": data.monkey_it, "animacy": data.models["animacy"].astype(float)}
    result = brain.layer_rsa(rdms, None, {"hIT": human}, method="corr_cov", n_bootstrap=200, seed=0)
    reference = compare(RDMs(brain.upper_vectors(np.stack(list(rdms.values())))), RDMs(brain.upper_vectors(human)),
                        method="corr_cov").mean(1)
    np.testing.assert_allclose(result.scores[0], reference, atol=1e-9)
    assert np.all(result.ci_low[0] <= result.scores[0]) and np.all(result.scores[0] <= result.ci_high[0])
    with pytest.raises(ValueError, match="whitening needs whole RDMs"):
        brain.layer_rsa(rdms, None, {"hIT": human}, method="cosine_cov", bootstrap="both", n_bootstrap=10)
    assert rsatoolbox is not None
