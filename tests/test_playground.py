"""The playground view (seed 004): decision boundary and hidden units over the input plane, during training."""
from __future__ import annotations

import numpy as np
import pytest

import deepscope as tflearn
from deepscope.datasets import toy
from deepscope.introspect import Playground, plot_playground
from deepscope.introspect.playground import plane, snapshot

X, Y = toy.moons(128, seed=0)
Y1 = np.eye(2, dtype=np.float32)[Y]


def model():
    net = tflearn.input_data([None, 2])
    net = tflearn.fully_connected(net, 4, activation="tanh")
    net = tflearn.fully_connected(net, 2, activation="softmax")
    return tflearn.DNN(tflearn.regression(net, learning_rate=0.05))


def test_snapshots_during_training_saved_as_a_grid_and_an_animation(tmp_path):
    m = model()
    view = Playground(X, Y1, every=1, path=tmp_path / "grid.png", resolution=12)
    m.fit(X, Y1, n_epoch=3, callbacks=view, diagnostics=False)
    assert [label for label, _ in view.snapshots] == ["epoch 0", "epoch 1", "epoch 2", "epoch 3"]
    assert (tmp_path / "grid.png").stat().st_size > 10_000
    view.save(tmp_path / "anim.gif")
    from PIL import Image
    assert Image.open(tmp_path / "anim.gif").n_frames == 4
    grid, _, _ = plane(X, 12)
    last = view.snapshots[-1][1]
    assert np.allclose(last["output"].ravel(), m.predict(grid)[:, 1], atol=1e-6)
    assert last["FullyConnected"].shape == (4, 12, 12)
    assert np.allclose(snapshot(m, X, 12)["output"], last["output"])
    plot_playground(m, X, Y1, tmp_path / "now.png")
    assert (tmp_path / "now.png").is_file()


def test_playground_needs_2d_inputs():
    with pytest.raises(ValueError, match=r"2-D inputs \(N, 2\)"):
        Playground(np.zeros((5, 3)), np.zeros(5))
