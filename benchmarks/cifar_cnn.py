"""Training throughput of seed 004's CIFAR-10 CNN (conv32-pool-conv64-conv64-pool-fc512-dropout-fc10,
Adam, batch 128) on 32x32x3 inputs. Without the seed's preprocessing/augmentation, so every
contender does the same arithmetic; the data are random (throughput does not depend on them)."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .common import count_flops, interleave, keras_available, quiet, timed

BATCH = 128


def deepscope_model():
    """Seed 004's CIFAR CNN as a deepscope DNN."""
    import deepscope as tflearn

    return tflearn.DNN(seed004_network())


def seed004_network():
    """Seed 004's CIFAR CNN: the output of ``regression`` (build a DNN, a stack or a study from it)."""
    import deepscope as tflearn

    net = tflearn.input_data(shape=[None, 32, 32, 3])
    net = tflearn.conv_2d(net, 32, 3, activation="relu")
    net = tflearn.max_pool_2d(net, 2)
    net = tflearn.conv_2d(net, 64, 3, activation="relu")
    net = tflearn.conv_2d(net, 64, 3, activation="relu")
    net = tflearn.max_pool_2d(net, 2)
    net = tflearn.fully_connected(net, 512, activation="relu")
    net = tflearn.dropout(net, 0.5)
    net = tflearn.fully_connected(net, 10, activation="softmax")
    return tflearn.regression(net, optimizer="adam", loss="categorical_crossentropy", learning_rate=0.001)


def deepscope_epoch(X, Y, diagnostics=True) -> float:
    model = deepscope_model()
    with quiet():
        return timed(lambda: model.fit(X, Y, n_epoch=1, batch_size=BATCH, shuffle=True, snapshot_epoch=False,
                                         diagnostics=diagnostics))


def torch_model() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(8 * 8 * 64, 512), nn.ReLU(), nn.Dropout(0.5), nn.Linear(512, 10))


def torch_dataloader(X, Y) -> float:
    """The PyTorch tutorial loop (NCHW tensors, DataLoader, default Adam)."""
    from torch.utils.data import DataLoader, TensorDataset

    model, loss_fn = torch_model(), nn.CrossEntropyLoss()
    opt = torch.optim.Adam(model.parameters(), lr=0.001)

    def train():
        x = torch.from_numpy(X).permute(0, 3, 1, 2).contiguous()  # NHWC -> NCHW
        loader = DataLoader(TensorDataset(x, torch.from_numpy(Y.argmax(1))), batch_size=BATCH, shuffle=True)
        model.train()
        for xb, yb in loader:
            opt.zero_grad()
            loss_fn(model(xb), yb).backward()
            opt.step()
    return timed(train)


def torch_best(X, Y) -> float:
    """Best hand-written eager loop: channels_last model and data, index batching, fused Adam."""
    model = torch_model().to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=0.001, fused=True)

    def train():
        x = torch.from_numpy(X).permute(0, 3, 1, 2)  # a view: NCHW with channels_last memory
        y = torch.from_numpy(Y.argmax(1))
        order = torch.randperm(len(x))
        model.train()
        for start in range(0, len(x), BATCH):
            idx = order[start:start + BATCH]
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
    return timed(train)


def keras_epoch(X, Y) -> float:
    import keras
    from keras import layers

    model = keras.Sequential([
        keras.Input((32, 32, 3)), layers.Conv2D(32, 3, padding="same", activation="relu"), layers.MaxPooling2D(2),
        layers.Conv2D(64, 3, padding="same", activation="relu"), layers.Conv2D(64, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(2), layers.Flatten(), layers.Dense(512, activation="relu"), layers.Dropout(0.5),
        layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(0.001), loss="categorical_crossentropy")
    return timed(lambda: model.fit(X, Y, epochs=1, batch_size=BATCH, shuffle=True, verbose=0))


def run(quick: bool, repeats: int):
    n = BATCH * (6 if quick else 20)
    rng = np.random.default_rng(0)
    X = rng.random((n, 32, 32, 3), dtype=np.float32)
    Y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, n)]
    contenders = {
        "deepscope": lambda: deepscope_epoch(X, Y),
        "deepscope diagnostics off": lambda: deepscope_epoch(X, Y, diagnostics=False),
        "torch best (chlast)": lambda: torch_best(X, Y),
        "torch DataLoader": lambda: torch_dataloader(X, Y),
    }
    if keras_available():
        contenders["keras[torch]"] = lambda: keras_epoch(X, Y)
    results = interleave(contenders, repeats)
    model = torch_model()
    xb = torch.from_numpy(X[:BATCH]).permute(0, 3, 1, 2)
    flops = count_flops(lambda: F.cross_entropy(model(xb), torch.from_numpy(Y[:BATCH].argmax(1))).backward())
    for r in results.values():
        r.flops, r.samples = flops * n / BATCH, n
    return f"CIFAR CNN b=128 ({n:,} samples)", results, "torch best (chlast)"
