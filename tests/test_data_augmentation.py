"""Tests for deepscope.data_augmentation (TFlearn's ImageAugmentation on torch)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from deepscope.data_augmentation import ImageAugmentation


def _all_steps() -> ImageAugmentation:
    aug = ImageAugmentation()
    aug.add_random_crop((16, 16), padding=2)
    aug.add_random_flip_leftright()
    aug.add_random_flip_updown()
    aug.add_random_90degrees_rotation()
    aug.add_random_rotation(max_angle=25.0)
    aug.add_random_shear(10.0)
    aug.add_random_shift(0.1)
    aug.add_random_scale(0.9, 1.1)
    aug.add_random_blur(sigma_max=2.0)
    aug.add_random_noise(0.01)
    return aug


def test_shapes_kept_on_a_256_batch_and_identity_in_eval():
    aug = _all_steps()
    x = torch.rand(256, 16, 16, 3)
    out = aug(x)
    assert out.shape == x.shape and out.dtype == torch.float32
    assert not torch.equal(out, x)
    aug.eval()
    assert aug(x) is x


def test_deterministic_under_manual_seed_and_config_round_trip():
    aug = _all_steps()
    x = torch.rand(32, 16, 16, 3)
    torch.manual_seed(7)
    a = aug(x)
    torch.manual_seed(7)
    b = aug(x)
    clone = ImageAugmentation.from_config(json.loads(json.dumps(aug.to_config())))
    torch.manual_seed(7)
    c = clone(x)
    assert torch.equal(a, b) and torch.equal(a, c)
    assert clone.to_config() == aug.to_config()


@pytest.mark.parametrize("method, dim", [("add_random_flip_leftright", 2), ("add_random_flip_updown", 1)])
def test_flips_are_exact(method, dim):
    aug = ImageAugmentation()
    getattr(aug, method)()
    x = torch.rand(64, 5, 7, 2)
    out = aug(x)
    same = (out == x).flatten(1).all(1)
    flipped = (out == x.flip(dim)).flatten(1).all(1)
    assert bool((same | flipped).all()) and 0 < int(flipped.sum()) < 64


def test_90_degree_rotations_exact():
    x = torch.rand(64, 6, 6, 1)
    aug = ImageAugmentation()
    aug.add_random_90degrees_rotation(rotations=[1])
    np.testing.assert_array_equal(aug(x).numpy(), np.rot90(x.numpy(), 1, axes=(1, 2)))
    aug = ImageAugmentation()
    aug.add_random_90degrees_rotation()
    out = aug(x)
    matches = torch.stack([(out == torch.rot90(x, k, (1, 2))).flatten(1).all(1) for k in range(4)])
    assert bool(matches.any(0).all()) and bool(matches.any(1).all())  # every k occurs
    wide = ImageAugmentation()
    wide.add_random_90degrees_rotation()
    with pytest.raises(ValueError, match=r"rotations=\[0, 2\]"):
        wide(torch.rand(2, 4, 6, 1))
    half = ImageAugmentation()
    half.add_random_90degrees_rotation(rotations=[0, 2])
    assert half(torch.rand(2, 4, 6, 1)).shape == (2, 4, 6, 1)


def test_null_geometric_steps_are_identity():
    aug = ImageAugmentation()
    aug.add_random_rotation(max_angle=0.0)
    aug.add_random_shear(0.0)
    aug.add_random_shift(0.0)
    aug.add_random_scale(1.0, 1.0)
    x = torch.rand(8, 9, 13, 3)
    torch.testing.assert_close(aug(x), x, atol=1e-5, rtol=0)


def test_rotation_keeps_content_on_average():
    # a centered disk stays a centered disk whatever the angle
    yy, xx = torch.meshgrid(torch.arange(21.0), torch.arange(21.0), indexing="ij")
    disk = (((yy - 10) ** 2 + (xx - 10) ** 2) < 36).float()
    x = disk.expand(16, 21, 21).unsqueeze(-1)
    aug = ImageAugmentation()
    aug.add_random_rotation(max_angle=90.0)
    out = aug(x)
    assert (out - x).abs().mean() < 0.02


def test_random_crop_windows():
    x = torch.arange(64 * 36, dtype=torch.float32).reshape(64, 6, 6, 1)
    aug = ImageAugmentation()
    aug.add_random_crop((4, 4))
    out = aug(x)
    assert out.shape == (64, 4, 4, 1)
    for i in range(0, 64, 9):  # each output is a window of its own image
        windows = [x[i, r:r + 4, c:c + 4] for r in range(3) for c in range(3)]
        assert any(torch.equal(out[i], w) for w in windows)
    pad = ImageAugmentation()
    pad.add_random_crop((6, 6), padding=2)
    out = pad(x)
    assert out.shape == x.shape
    padded = torch.nn.functional.pad(x, (0, 0, 2, 2, 2, 2))
    for i in range(0, 64, 9):
        windows = [padded[i, r:r + 6, c:c + 6] for r in range(5) for c in range(5)]
        assert any(torch.equal(out[i], w) for w in windows)
    with pytest.raises(ValueError, match="crop_shape"):
        aug(torch.rand(2, 3, 3, 1))


def test_blur():
    aug = ImageAugmentation()
    aug.add_random_blur(sigma_max=3.0)
    const = torch.full((8, 10, 10, 2), 0.7)
    torch.testing.assert_close(aug(const), const)  # blur keeps a constant image
    x = torch.rand(128, 10, 10, 2)
    out = aug(x)
    changed = ~torch.isclose(out, x, atol=1e-4).flatten(1).all(1)
    assert 0 < int(changed.sum()) < 128  # about half of the images
    assert out[changed].var() < x[changed].var()
    zero = ImageAugmentation()
    zero.add_random_blur(sigma_max=0.0)
    assert torch.equal(zero(x), x)


def test_noise_and_errors():
    aug = ImageAugmentation()
    aug.add_random_noise(std=0.5)
    x = torch.zeros(64, 8, 8, 3)
    assert abs(aug(x).std().item() - 0.5) < 0.02
    with pytest.raises(ValueError, match=r"\(N, height, width, channels\)"):
        aug(torch.zeros(4, 8))
    with pytest.raises(ValueError, match="max_angle"):
        ImageAugmentation().add_random_rotation(-1)
    with pytest.raises(TypeError, match="crop_shape"):
        ImageAugmentation().add_random_crop(24)
    assert aug(torch.zeros(2, 4, 4, 1, dtype=torch.uint8)).dtype == torch.float32


def test_rotation_is_in_pixels_for_non_square_images(monkeypatch):
    # with torch.rand -> 0 every image turns by -max_angle: a blob 4 px right of the center
    # must end 4 px (not 2) below it, i.e. the warp works in pixels, not in [-1, 1] units.
    monkeypatch.setattr(torch, "rand", lambda *shape, **kw: torch.zeros(*shape, **kw))
    x = torch.zeros(1, 8, 16, 1)
    x[0, 3:5, 11:13] = 1.0  # center of the image: (row 3.5, col 7.5)
    aug = ImageAugmentation()
    aug.add_random_rotation(max_angle=90.0)
    out = aug(x)[0, :, :, 0]
    rows, cols = torch.meshgrid(torch.arange(8.0), torch.arange(16.0), indexing="ij")
    assert abs((out * cols).sum() / out.sum() - 7.5) < 0.05
    assert out[7, 7:9].min() > 0.99 and out.sum() < 2.1  # half the blob left the image
    square = torch.randn(3, 6, 6, 2)  # torch.rand is patched
    torch.testing.assert_close(aug(square), torch.rot90(square, -1, (1, 2)), atol=1e-5, rtol=0)
