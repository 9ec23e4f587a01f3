"""Seed 004's CIFAR-10 networks build and train an epoch on the real CIFAR-10 subset."""
from __future__ import annotations

import numpy as np
import pytest

import deepscope as tflearn
from deepscope import (DNN, ImageAugmentation, ImagePreprocessing, conv_2d, dropout, fully_connected,
                       input_data, max_pool_2d, regression)
from deepscope.datasets import cifar10


@pytest.fixture(scope="module")
def cifar(shared_datasets):
    with pytest.warns(UserWarning, match="subset"):
        (X, Y), (X_test, Y_test) = cifar10.load_data(one_hot=True, data_dir=shared_datasets)
    return X, Y, X_test, Y_test


def seed_network(three_sets: bool, use_dropout: bool = False, l2: bool = False, learning_rate=0.001):
    """The seed's network: one or three sets of conv/pool layers, optional dropout and L2."""
    img_prep = ImagePreprocessing()
    img_prep.add_featurewise_zero_center()
    img_prep.add_featurewise_stdnorm()
    img_aug = ImageAugmentation()
    img_aug.add_random_flip_leftright()
    img_aug.add_random_rotation(max_angle=25.0)
    reg = "L2" if l2 else None
    network = input_data(shape=[None, 32, 32, 3], data_preprocessing=img_prep, data_augmentation=img_aug)
    network = conv_2d(network, 32, 3, activation="relu", regularizer=reg)
    network = max_pool_2d(network, 2)
    if three_sets:
        network = conv_2d(network, 64, 3, activation="relu", regularizer=reg)
        network = conv_2d(network, 64, 3, activation="relu", regularizer=reg)
        network = max_pool_2d(network, 2)
    network = fully_connected(network, 512, activation="relu", regularizer=reg)
    if use_dropout:
        network = dropout(network, 0.5)
    network = fully_connected(network, 10, activation="softmax")
    return regression(network, optimizer="adam", loss="categorical_crossentropy", learning_rate=learning_rate)


def test_cifar_subset_is_the_real_data(cifar):
    X, Y, X_test, Y_test = cifar
    assert X.shape == (4000, 32, 32, 3) and X_test.shape == (1000, 32, 32, 3)
    assert Y[:10].argmax(1).tolist() == [6, 9, 9, 4, 1, 1, 2, 7, 8, 3]
    assert 0.0 <= X.min() and X.max() <= 1.0


@pytest.mark.parametrize("variant", [
    dict(three_sets=False),
    dict(three_sets=True, use_dropout=True),
    dict(three_sets=True, l2=True),
])
def test_seed_network_trains_an_epoch(cifar, variant, tmp_path):
    X, Y, X_test, Y_test = cifar
    tflearn.set_seed(0)
    model = DNN(seed_network(**variant), tensorboard_dir=tmp_path)
    shapes = [list(node.shape) for node in model.net.nodes]
    assert shapes[1] == [None, 32, 32, 32]  # 'same' padding keeps 32x32
    n = 1024  # a quarter of the subset keeps the suite fast; the whole pipeline still runs
    model.fit(X[:n], Y[:n], n_epoch=1, validation_set=(X_test[:500], Y_test[:500]), show_metric=True,
              batch_size=128, run_id="seed")
    logs = model.history[-1]
    assert np.isfinite(logs["loss"]) and np.isfinite(logs["val_loss"])
    assert logs["val_acc"] > 0.13  # above chance (0.10) after one short epoch
    prep = model.net.inputs[0].module.preprocessing
    assert prep.is_fitted  # statistics came from the training set
