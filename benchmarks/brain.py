"""deepscope.brain against the reference libraries, side by side in one process (medians of
interleaved repeats):

- RSA with 1,000 bootstrap samples (stimuli and subjects) of 6 layer RDMs against the 4 human IT
  subjects of the 92-image data set: ``brain.layer_rsa`` vs rsatoolbox's ``eval_bootstrap``
  (fixed models, the same resampling scheme, noise ceiling per sample off);
- ridge encoding of 212 units from a 4,096-feature layer with 5-fold CV: ``brain.encoding_scores``
  vs a plain scikit-learn loop (StandardScaler + RidgeCV per fold);
- the one call, ``brain.compare`` (a 6-layer CNN on the 92 images: RSA with 1,000 bootstraps against the 4
  subjects and ridge encoding of a simulated V1 population, 5 folds) vs the sum of its parts
  (``layer_rsa`` + ``layer_encoding``, each recording the layers itself) vs rsatoolbox's ``eval_bootstrap``
  plus the scikit-learn loop on the same layers (recorded once by deepscope).

    python benchmarks/brain.py [--repeats 3]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "benchmarks"

import numpy as np  # noqa: E402

from benchmarks.common import quiet  # noqa: E402
from deepscope import brain  # noqa: E402
from deepscope.datasets import kriegeskorte92  # noqa: E402


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "datasets"))
    args = parser.parse_args(argv)
    import rsatoolbox
    from rsatoolbox.inference import eval_bootstrap
    from rsatoolbox.model import ModelFixed
    from rsatoolbox.rdm import RDMs
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import KFold
    from sklearn.preprocessing import StandardScaler

    data = kriegeskorte92.load_data(args.data_dir)
    human = data.human_it_subjects_rdms()
    rng = np.random.default_rng(0)
    layers = {f"layer{i}": brain.rsa.rdm(rng.normal(size=(92, 500)) + i * data.images.reshape(92, -1)[:, :500] / 255)
              for i in range(6)}
    subjects = RDMs(brain.upper_vectors(human))
    models = [ModelFixed(name, brain.upper_vectors(r[None])[0]) for name, r in layers.items()]

    def ours_rsa():
        brain.layer_rsa(layers, None, {"hIT": human}, n_bootstrap=1000)

    def rsatoolbox_rsa():
        with quiet():
            eval_bootstrap(models, subjects, method="spearman", N=1000, boot_noise_ceil=False)

    x = rng.normal(size=(92, 4096))
    y = brain.simulate_v1(data.images, n_units=212).responses

    def ours_encoding():
        brain.encoding_scores(x, y)

    def sklearn_encoding():
        target = y.mean(1)
        predictions = np.zeros_like(target)
        for train, test in KFold(5, shuffle=True, random_state=0).split(x):
            scaler = StandardScaler().fit(x[train])
            ridge = RidgeCV(alphas=brain.encoding.ALPHAS, alpha_per_target=True).fit(scaler.transform(x[train]),
                                                                                   target[train])
            predictions[test] = ridge.predict(scaler.transform(x[test]))
        [np.corrcoef(predictions[:, u], target[:, u])[0, 1] for u in range(target.shape[1])]

    import deepscope as tflearn
    tflearn.set_seed(0)
    net = tflearn.input_data(shape=[None, 32, 32, 3])
    for filters in (16, 32):
        net = tflearn.conv_2d(net, filters, 3, activation="relu")
        net = tflearn.max_pool_2d(net, 2)
    net = tflearn.fully_connected(net, 64, activation="relu")
    net = tflearn.fully_connected(net, 10, activation="softmax")
    model = tflearn.DNN(tflearn.regression(net))
    stimuli = brain.stimuli_for(model, data.images)
    population = {"V1": y}
    layer_names = list(tflearn.introspect.layer_modules(model))[1:]  # (without the input layer)

    def ours_compare():
        brain.compare(model, stimuli, rdms={"hIT": human}, responses=population, layers=layer_names,
                      n_bootstrap=1000, n_folds=5)

    def parts():
        brain.layer_rsa(model, stimuli, {"hIT": human}, layers=layer_names, n_bootstrap=1000)
        brain.layer_encoding(model, stimuli, population, layers=layer_names)

    def references():
        acts = tflearn.introspect.activations(model, stimuli, layer_names)
        fixed = [ModelFixed(name, brain.upper_vectors(brain.rsa.rdm(a)[None])[0]) for name, a in acts.items()]
        with quiet():
            eval_bootstrap(fixed, subjects, method="spearman", N=1000, boot_noise_ceil=False)
        target = y.mean(1)
        for a in acts.values():
            features = a.reshape(len(a), -1)
            predictions = np.zeros_like(target)
            for train, test in KFold(5, shuffle=True, random_state=0).split(features):
                scaler = StandardScaler().fit(features[train])
                ridge = RidgeCV(alphas=brain.encoding.ALPHAS, alpha_per_target=True).fit(
                    scaler.transform(features[train]), target[train])
                predictions[test] = ridge.predict(scaler.transform(features[test]))

    rows = {"RSA, 6 layers x 92 stimuli x 4 subjects, 1,000 bootstraps": (ours_rsa, rsatoolbox_rsa, "rsatoolbox"),
            "ridge encoding, 212 units from 4,096 features, 5-fold CV": (ours_encoding, sklearn_encoding,
                                                                         "scikit-learn loop"),
            f"brain.compare, {len(layer_names)} CNN layers (RSA 1,000 bootstraps + encoding) vs its parts": (
                ours_compare, parts, "layer_rsa + layer_encoding"),
            f"brain.compare, {len(layer_names)} CNN layers vs the reference libraries": (
                ours_compare, references, "rsatoolbox + scikit-learn")}
    print(f"rsatoolbox {getattr(rsatoolbox, '__version__', '0.3')}, {args.repeats} interleaved repeats, medians")
    for name, (ours, theirs, label) in rows.items():
        times = {"deepscope": [], label: []}
        ours(), theirs()  # warm-up
        for r in range(args.repeats):
            for who, fn in ((("deepscope", ours), (label, theirs)) if r % 2 == 0 else ((label, theirs), ("deepscope", ours))):
                times[who].append(timed(fn))
        a, b = statistics.median(times["deepscope"]), statistics.median(times[label])
        print(f"{name}: deepscope {a:.3f} s, {label} {b:.3f} s ({b / a:.1f}x faster)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
