"""Write the golden model files (format version 1) and their expected outputs.

    python tests/golden/make_golden.py      # only when the format changes on purpose (new version)

Each network uses several layer kinds; together they cover every layer function that has weights,
buffers or arguments to replay. tests/test_golden.py loads every file and checks the outputs.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

import deepscope as tflearn

HERE = Path(__file__).resolve().parent


def image_net():
    prep = tflearn.ImagePreprocessing()
    prep.add_featurewise_zero_center(mean=0.4)
    prep.add_featurewise_stdnorm(std=0.2)
    aug = tflearn.ImageAugmentation()
    aug.add_random_flip_leftright()
    net = tflearn.input_data([None, 8, 8, 3], data_preprocessing=prep, data_augmentation=aug)
    net = tflearn.conv_2d(net, 4, 3, activation="relu")
    net = tflearn.batch_normalization(net)
    net = tflearn.local_response_normalization(net)
    net = tflearn.max_pool_2d(net, 2)
    net = tflearn.conv_2d_transpose(net, 3, 3, [8, 8], strides=2, activation="elu")
    net = tflearn.avg_pool_2d(net, 2)
    net = tflearn.upsample_2d(net, 2)
    branch = tflearn.global_max_pool(net)
    net = tflearn.global_avg_pool(net)
    net = tflearn.merge([net, branch], "concat")
    net = tflearn.fully_connected(net, 6, activation="prelu")
    net = tflearn.dropout(net, 0.8)
    net = tflearn.fully_connected(net, 3, activation="softmax")
    return tflearn.regression(net), np.random.RandomState(0).rand(4, 8, 8, 3).astype(np.float32)


def sequence_net():
    net = tflearn.input_data([None, 6, 4])
    net = tflearn.conv_1d(net, 5, 2, activation="tanh")
    net = tflearn.max_pool_1d(net, 2)
    net = tflearn.avg_pool_1d(net, 1)
    net = tflearn.simple_rnn(net, 4, return_seq=True)
    net = tflearn.gru(net, 4, return_seq=True)
    net = tflearn.lstm(net, 3)
    net = tflearn.l2_normalize(net, 1)
    net = tflearn.fully_connected(net, 2, activation="sigmoid")
    return tflearn.regression(net, loss="binary_crossentropy"), np.random.RandomState(1).rand(4, 6, 4).astype(np.float32)


def text_net():
    net = tflearn.input_data([None, 5])
    net = tflearn.embedding(net, input_dim=20, output_dim=4)
    net = tflearn.flatten(net)
    net = tflearn.reshape(net, [-1, 20])
    net = tflearn.activation(net, "leaky_relu")
    net = tflearn.single_unit(net)
    return tflearn.regression(net, loss="mean_square"), np.random.RandomState(2).randint(0, 20, (4, 5))


def blocks_net():
    """The TFlearn example-repository layers (added to format version 1 without changing older calls)."""
    net = tflearn.input_data([None, 8, 8, 3])
    net = tflearn.conv_2d(net, 4, 3)
    net = tflearn.residual_block(net, 1, 6, downsample=True)  # + pad_channels, elementwise
    net = tflearn.residual_bottleneck(net, 1, 2, 6)
    net = tflearn.resnext_block(net, 1, 8, 2)  # + grouped_conv_2d
    net = tflearn.densenet_block(net, 1, 4)
    net = tflearn.highway_conv_2d(net, 4, 1, activation="relu")
    net = tflearn.activations.relu(0.5 * net + net)
    seq = tflearn.reshape(net, [-1, 4, 4])
    seq = tflearn.bidirectional_rnn(seq, tflearn.BasicLSTMCell(3), tflearn.GRUCell(2))
    seq = tflearn.highway(seq, 5, activation="tanh")
    return tflearn.regression(tflearn.fully_connected(seq, 2, activation="softmax")), \
        np.random.RandomState(3).rand(4, 8, 8, 3).astype(np.float32)


NETWORKS = {"image": image_net, "sequence": sequence_net, "text": text_net, "blocks": blocks_net}


def main(names=None) -> None:
    for name, build in NETWORKS.items():
        if names and name not in names:
            continue
        tflearn.set_seed(0)
        output, x = build()
        model = tflearn.DNN(output)
        model.save(HERE / f"v1_{name}.safetensors")
        np.savez(HERE / f"v1_{name}_expected.npz", x=x, y=model.predict(x))
        print(name, model.predict(x).shape)


if __name__ == "__main__":
    import sys
    main(sys.argv[1:])  # e.g. `make_golden.py blocks`: write one file without touching the others
