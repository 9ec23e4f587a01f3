"""image_preloader and build_hdf5_image_dataset: folders of images, path/label files, training on them."""
from __future__ import annotations

import numpy as np
import pytest

import deepscope as tflearn
from deepscope.data_utils import build_hdf5_image_dataset, image_preloader

Image = pytest.importorskip("PIL.Image")


@pytest.fixture()
def image_folder(tmp_path):
    root = tmp_path / "images"
    rng = np.random.default_rng(0)
    for label, color in enumerate([(255, 0, 0), (0, 0, 255)]):
        folder = root / ["red", "blue"][label]
        folder.mkdir(parents=True)
        for i in range(6):
            pixels = (np.array(color) * rng.uniform(0.7, 1.0)).astype(np.uint8)
            Image.fromarray(np.tile(pixels, (12, 10, 1))).save(folder / f"{i}.png")
    return root


def test_folder_mode_loads_resized_normalized_images_and_one_hot_labels(image_folder):
    X, Y = image_preloader(image_folder, image_shape=(8, 6), mode="folder")
    assert len(X) == 12 and X.shape == (12, 6, 8, 3)
    first = X[0]
    assert first.shape == (6, 8, 3) and 0.0 <= first.min() and first.max() <= 1.0
    labels = np.asarray(Y)
    assert labels.shape == (12, 2) and labels.sum() == 12
    # classes are the sorted sub-folders: 'blue' = 0, 'red' = 1
    blue = np.asarray(X)[labels.argmax(1) == 0]
    assert (blue[..., 2] > blue[..., 0]).all()
    net = tflearn.input_data(shape=[None, 6, 8, 3])
    net = tflearn.fully_connected(tflearn.flatten(net), 2, activation="softmax")
    model = tflearn.DNN(tflearn.regression(net, learning_rate=0.05))
    model.fit(X, Y, n_epoch=10, batch_size=4, diagnostics=False)
    assert model.evaluate(X, Y)[0] == 1.0


def test_file_mode_and_hdf5(image_folder, tmp_path):
    listing = tmp_path / "list.txt"
    paths = sorted(image_folder.rglob("*.png"))
    listing.write_text("\n".join(f"{p} {int('red' in str(p))}" for p in paths))
    X, Y = image_preloader(listing, image_shape=(4, 4), mode="file", categorical_labels=False, grayscale=True)
    assert np.asarray(X).shape == (12, 4, 4, 1) and list(np.asarray(Y)) == [int("red" in str(p)) for p in paths]
    h5py = pytest.importorskip("h5py")
    out = build_hdf5_image_dataset(listing, (4, 4), output_path=tmp_path / "d.h5", mode="file")
    with h5py.File(out, "r") as f:
        assert f["X"].shape == (12, 4, 4, 3) and f["Y"].shape == (12, 2)
        np.testing.assert_allclose(f["X"][3], image_preloader(listing, (4, 4))[0][3], atol=1e-6)


def test_bad_inputs_say_what_is_wrong(tmp_path, image_folder):
    with pytest.raises(FileNotFoundError, match="folder"):
        image_preloader(tmp_path / "missing", (4, 4), mode="folder")
    bad = tmp_path / "bad.txt"
    bad.write_text("only_a_path\n")
    with pytest.raises(ValueError, match="line 1"):
        image_preloader(bad, (4, 4))
    broken = tmp_path / "broken.txt"
    (tmp_path / "x.png").write_bytes(b"not an image")
    broken.write_text(f"{tmp_path / 'x.png'} 0\n")
    X, _ = image_preloader(broken, (4, 4))
    with pytest.raises(OSError, match="readable image"):
        X[0]
    with pytest.raises(ValueError, match="mode"):
        image_preloader(image_folder, (4, 4), mode="zip")
