"""Tests for deepscope.data_preprocessing (TFlearn's ImagePreprocessing on torch)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from deepscope.data_preprocessing import DataPreprocessing, ImagePreprocessing


@pytest.fixture
def images() -> np.ndarray:
    rng = np.random.default_rng(0)
    scale = np.array([1.0, 2.0, 3.0], np.float32)
    return (rng.random((300, 6, 5, 3), dtype=np.float32) * 255 * scale / 3).astype(np.float32)


def test_featurewise_stats_equal_numpy_and_apply_at_eval(images):
    prep = ImagePreprocessing()
    prep.add_featurewise_zero_center()
    prep.add_featurewise_stdnorm()
    assert not prep.is_fitted
    prep.fit(images, chunk_size=37)  # chunking does not change the statistics
    assert prep.is_fitted
    assert prep.op0_mean.shape == () and prep.op0_mean.dtype == torch.float32
    np.testing.assert_allclose(prep.op0_mean.item(), images.astype(np.float64).mean(), rtol=1e-6)
    np.testing.assert_allclose(prep.op1_std.item(), images.astype(np.float64).std(), rtol=1e-6)
    test = torch.rand(10, 6, 5, 3) * 255  # other data: training statistics are used
    expected = (test - prep.op0_mean) / (prep.op1_std + 1e-8)
    prep.eval()
    torch.testing.assert_close(prep(test), expected)
    prep.train()
    torch.testing.assert_close(prep(test), expected)  # same at train and predict time
    out = prep(torch.from_numpy(images))
    assert abs(out.mean().item()) < 1e-4 and abs(out.std().item() - 1) < 1e-3


def test_per_channel_stats(images):
    prep = ImagePreprocessing()
    prep.add_featurewise_zero_center(per_channel=True)
    prep.add_featurewise_stdnorm(per_channel=True)
    prep.fit(torch.from_numpy(images), chunk_size=64)
    np.testing.assert_allclose(prep.op0_mean.numpy(), images.mean((0, 1, 2)), rtol=1e-5)
    np.testing.assert_allclose(prep.op1_std.numpy(), images.std((0, 1, 2)), rtol=1e-5)
    out = prep(torch.from_numpy(images)).numpy()
    np.testing.assert_allclose(out.mean((0, 1, 2)), 0, atol=1e-4)
    np.testing.assert_allclose(out.std((0, 1, 2)), 1, atol=1e-4)


def test_steps_fit_in_order_and_uint8(images):
    raw = images.astype(np.uint8)
    prep = ImagePreprocessing()
    prep.add_image_normalization()
    prep.add_crop_center((4, 3))
    prep.add_featurewise_zero_center()
    prep.fit(raw)
    center = raw[:, 1:5, 1:4].astype(np.float64) / 255  # the mean is of what arrives at the step
    np.testing.assert_allclose(prep.op2_mean.item(), center.mean(), rtol=1e-6)
    out = prep(torch.from_numpy(raw[:4]))
    assert out.shape == (4, 4, 3, 3) and out.dtype == torch.float32
    np.testing.assert_allclose(out.numpy(), center[:4] - center.mean(), atol=1e-6)


def test_samplewise(images):
    prep = ImagePreprocessing()
    prep.add_samplewise_zero_center()
    prep.add_samplewise_stdnorm()
    assert prep.is_fitted  # nothing to learn
    out = prep(torch.from_numpy(images[:8])).reshape(8, -1)
    torch.testing.assert_close(out.mean(1), torch.zeros(8), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.std(1, correction=0), torch.ones(8), atol=1e-4, rtol=0)
    pc = ImagePreprocessing()
    pc.add_samplewise_zero_center(per_channel=True)
    out = pc(torch.from_numpy(images[:8]))
    torch.testing.assert_close(out.mean((1, 2)), torch.zeros(8, 3), atol=1e-4, rtol=0)
    flat = DataPreprocessing()
    flat.add_samplewise_zero_center(per_channel=True)
    with pytest.raises(ValueError, match="per_channel=False"):
        flat(torch.rand(4, 10))


def test_given_statistics_are_kept(images):
    prep = ImagePreprocessing()
    prep.add_featurewise_zero_center(mean=[10.0, 20.0, 30.0])
    prep.add_featurewise_stdnorm(std=2.0)
    assert prep.is_fitted
    prep.fit(images)  # does not overwrite what the user gave
    x = torch.ones(2, 6, 5, 3) * 40
    torch.testing.assert_close(prep(x)[0, 0, 0], torch.tensor([15.0, 10.0, 5.0]))


def test_unfitted_forward_error():
    prep = ImagePreprocessing()
    prep.add_featurewise_stdnorm()
    with pytest.raises(RuntimeError, match=r"fit\(X_train\).*std=\.\.\."):
        prep(torch.rand(2, 4, 4, 3))


def test_zca_whitening_gives_identity_covariance():
    rng = np.random.default_rng(1)
    mix = rng.normal(size=(48, 48))
    X = (rng.normal(size=(2000, 48)) @ mix + 5).reshape(2000, 4, 4, 3).astype(np.float32)
    prep = ImagePreprocessing()
    prep.add_zca_whitening(epsilon=1e-8)
    prep.fit(X, chunk_size=300)
    out = prep(torch.from_numpy(X)).reshape(2000, -1).double()
    cov = torch.cov(out.T, correction=0)
    assert (cov - torch.eye(48, dtype=torch.float64)).abs().max() < 1e-3
    assert out.mean(0).abs().max() < 1e-3
    w = prep.op0_pc
    torch.testing.assert_close(w, w.T)  # ZCA: symmetric


def test_config_round_trip_and_state_dict(images):
    prep = ImagePreprocessing()
    prep.add_image_normalization()
    prep.add_featurewise_zero_center(per_channel=True)
    prep.add_featurewise_stdnorm()
    prep.add_zca_whitening()
    prep.fit(images)
    config = json.loads(json.dumps(prep.to_config()))
    assert config["ops"][1]["buffers"] == {"mean": [3]}
    assert config["ops"][3]["buffers"] == {"zca_mean": [90], "pc": [90, 90]}
    clone = ImagePreprocessing.from_config(config)
    assert isinstance(clone, ImagePreprocessing) and not clone.is_fitted
    clone.load_state_dict(prep.state_dict())  # strict: shapes match
    assert clone.is_fitted
    x = torch.from_numpy(images[:16])
    torch.testing.assert_close(clone(x), prep(x), rtol=0, atol=0)
    # loading into a freshly built (unfitted) pipeline also works
    fresh = ImagePreprocessing()
    fresh.add_image_normalization()
    fresh.add_featurewise_zero_center(per_channel=True)
    fresh.add_featurewise_stdnorm()
    fresh.add_zca_whitening()
    fresh.load_state_dict(prep.state_dict())
    torch.testing.assert_close(fresh(x), prep(x), rtol=0, atol=0)
    assert DataPreprocessing.from_config(config).to_config() == config


def test_fit_rejects_bad_data():
    prep = ImagePreprocessing()
    prep.add_featurewise_zero_center()
    with pytest.raises(TypeError, match="strings"):
        prep.fit([["a", "b"], ["c", "d"]])
    with pytest.raises(ValueError, match="finite"):
        prep.fit(np.array([[1.0, np.nan]]))
    prep.fit([[1.0, 2.0], [3.0, 4.0]])  # lists are fine
    assert prep.op0_mean.item() == 2.5
