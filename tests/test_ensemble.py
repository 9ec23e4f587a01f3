"""deepscope.sweep.ensemble: one network trained for many seeds at once (torch.func.vmap)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import deepscope as tflearn
from deepscope.sweep.ensemble import EnsembleResult, train_ensemble

X_OR = [[0., 0.], [0., 1.], [1., 0.], [1., 1.]]
Y_OR = [[0.], [1.], [1.], [1.]]

rng = np.random.default_rng(0)
X3 = rng.normal(size=(20, 5)).astype(np.float32)  # 20 samples: batches of 8, 8 and 4
Y3 = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 20)]


def or_net():
    net = tflearn.input_data(shape=[None, 2])
    net = tflearn.fully_connected(net, 1, activation="sigmoid")
    return tflearn.regression(net, optimizer="sgd", learning_rate=2.0, loss="mean_square")


def mlp(units=8, optimizer="adam", keep_prob=None):
    net = tflearn.input_data(shape=[None, 5])
    net = tflearn.fully_connected(net, units, activation="tanh", regularizer="L2", weight_decay=0.01)
    if keep_prob is not None:
        net = tflearn.dropout(net, keep_prob)
    net = tflearn.fully_connected(net, 3, activation="softmax")
    return tflearn.regression(net, optimizer=optimizer, learning_rate=0.05, loss="categorical_crossentropy",
                              batch_size=8)


def _reference(seed, n_epoch, batch_size, clip):
    """A plain torch loop for one seed: same init (built after set_seed), same batches, Adam."""
    tflearn.set_seed(seed)
    model = tflearn.DNN(mlp(), clip_gradients=None)
    net = model.net.train()
    opt = torch.optim.Adam(net.parameters(), lr=0.05)  # torch's default (not fused) Adam
    x, y = torch.tensor(X3), torch.tensor(Y3).argmax(1)
    first_w = net.layers["FullyConnected"].weight  # the L2-regularized layer
    for _ in range(n_epoch):
        for start in range(0, len(x), batch_size):
            xb, yb = x[start:start + batch_size], y[start:start + batch_size]
            loss = F.cross_entropy(net.logits(xb), yb) + 0.01 * first_w.pow(2).sum() / 2  # TFlearn's L2
            opt.zero_grad()
            loss.backward()
            if clip is not None:
                torch.nn.utils.clip_grad_norm_(net.parameters(), clip)
            opt.step()
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


@pytest.mark.parametrize("clip", [None, 0.1])
def test_same_weights_as_separate_loops(clip):
    seeds = [3, 7, 11]
    result = train_ensemble(mlp, X3, Y3, seeds, n_epoch=4, batch_size=8, shuffle=False, clip_gradients=clip,
                            validation_set=(X3[:6], Y3[:6]), show_metric=True)
    assert isinstance(result, EnsembleResult) and result.seeds == seeds
    for seed, model in zip(seeds, result.models):
        expected = _reference(seed, 4, 8, clip)
        got = model.net.state_dict()
        assert expected.keys() == got.keys()
        for name in expected:
            torch.testing.assert_close(got[name], expected[name], atol=1e-5, rtol=0)
    # per-model numbers have one entry per model; history has one dict per epoch
    assert len(result.history) == 4
    assert set(result.history[0]) == {"loss", "acc", "val_loss", "val_acc"}
    assert all(v.shape == (3,) for v in result.history[-1].values())
    assert set(result.final) == {"loss", "acc", "val_loss", "val_acc"}
    # the final numbers are those of the written-back models
    for i, model in enumerate(result.models):
        assert model.evaluate(X3[:6], Y3[:6])[0] == pytest.approx(result.final["val_acc"][i])
    assert "val_acc" in result.summary()


def test_models_start_from_their_seed_and_match_fit_init():
    result = train_ensemble(mlp, X3, Y3, [0, 1], n_epoch=1)
    tflearn.set_seed(1)
    fresh = tflearn.DNN(mlp())
    # the trained model 1 differs from its own initialization, and model 0 differs from model 1
    w = [dict(m.net.named_parameters()) for m in result.models]
    name = next(iter(w[0]))
    assert not torch.equal(w[0][name], w[1][name])
    assert not torch.equal(w[1][name], dict(fresh.net.named_parameters())[name])


def test_or_network_learns_or_with_20_seeds():
    result = train_ensemble(or_net, X_OR, Y_OR, seeds=range(20), n_epoch=2000)
    assert len(result.models) == 20
    for model in result.models:
        np.testing.assert_array_equal(model.predict(X_OR) > 0.5, np.array(Y_OR) > 0.5)
    np.testing.assert_array_equal(result.final["acc"], np.ones(20))
    assert (result.final["loss"] < 0.01).all()
    text = result.summary()
    assert "loss" in text and "acc" in text and "20 models" in text


def _same_init_build(keep_prob):
    def build():
        torch.manual_seed(0)  # the same initialization for every seed: only dropout can differ
        return mlp(keep_prob=keep_prob)
    return build


def test_dropout_masks_come_from_each_models_own_generator():
    """A model's masks are those its own fit would draw: a build that reseeds the generator gives every
    seed the same masks (as their separate fits would), a plain build gives each seed its own."""
    kwargs = dict(n_epoch=3, batch_size=8, shuffle=False)
    plain = train_ensemble(_same_init_build(None), X3, Y3, [0, 1, 2], **kwargs)
    p0, p1 = plain.models[0].predict(X3), plain.models[1].predict(X3)
    np.testing.assert_allclose(p0, p1, atol=1e-6)  # no dropout, same init: identical models
    reseeded = train_ensemble(_same_init_build(0.5), X3, Y3, [0, 1, 2], **kwargs)
    d = [m.predict(X3) for m in reseeded.models]
    np.testing.assert_allclose(d[0], d[1], atol=1e-6)  # same generator state after the build: same masks
    own = tflearn.DNN(_same_init_build(0.5)())
    own.fit(X3, Y3, **kwargs)
    np.testing.assert_allclose(own.predict(X3), d[0], atol=1e-5)  # = its separate fit
    seeded = train_ensemble(lambda: mlp(keep_prob=0.5), X3, Y3, [0, 1, 2], **kwargs)
    e = [m.predict(X3) for m in seeded.models]
    assert np.abs(e[0] - e[1]).max() > 1e-3 and np.abs(e[1] - e[2]).max() > 1e-3
    np.testing.assert_array_equal(seeded.models[0].predict(X3), e[0])  # predict runs in eval mode


def test_clear_errors():
    with pytest.raises(ValueError, match="at least one seed"):
        train_ensemble(or_net, X_OR, Y_OR, seeds=[])
    with pytest.raises(ValueError, match="distinct"):
        train_ensemble(or_net, X_OR, Y_OR, seeds=[1, 1])
    sizes = iter([4, 4, 6])
    with pytest.raises(ValueError, match="same architecture"):
        train_ensemble(lambda: mlp(units=next(sizes)), X3, Y3, seeds=[0, 1, 2], n_epoch=1)
    with pytest.raises(TypeError, match="regression"):
        train_ensemble(lambda: torch.nn.Linear(2, 1), X_OR, Y_OR, seeds=[0])

    def with_batch_norm():
        net = tflearn.input_data(shape=[None, 5])
        net = tflearn.fully_connected(net, 4)
        net = tflearn.batch_normalization(net)
        net = tflearn.fully_connected(net, 3, activation="softmax")
        return tflearn.regression(net)

    result = train_ensemble(with_batch_norm, X3, Y3, seeds=[0, 1], n_epoch=1)  # stacks: its own statistics each
    means = [m.net.layers["BatchNormalization"].running_mean for m in result.models]
    assert not torch.equal(means[0], means[1])
