"""One training epoch of a 784-50-25-10 MLP (ReLU, softmax cross-entropy, Adam) on real MNIST,
at batch 1 (on a slice of the data), 128 and 2000."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .common import count_flops, fast_paths_off, interleave, keras_available, mnist, quiet, timed


def _torch_model():
    return torch.nn.Sequential(torch.nn.Linear(784, 50), torch.nn.ReLU(), torch.nn.Linear(50, 25), torch.nn.ReLU(),
                               torch.nn.Linear(25, 10))


def deepscope_model():
    """The 784-50-25-10 MLP as a deepscope DNN."""
    import deepscope as tflearn

    net = tflearn.input_data(shape=[None, 784])
    net = tflearn.fully_connected(net, 50, activation="relu")
    net = tflearn.fully_connected(net, 25, activation="relu")
    net = tflearn.fully_connected(net, 10, activation="softmax")
    net = tflearn.regression(net, optimizer="adam", learning_rate=0.001, loss="categorical_crossentropy")
    return tflearn.DNN(net)


def deepscope_epoch(X, Y, batch_size, diagnostics=True) -> float:
    model = deepscope_model()
    with quiet():
        return timed(lambda: model.fit(X, Y, n_epoch=1, batch_size=batch_size, shuffle=True, snapshot_epoch=False,
                                         diagnostics=diagnostics))


def _plain(X, Y, batch_size) -> float:
    with fast_paths_off():
        return deepscope_epoch(X, Y, batch_size)


def torch_dataloader(X, Y, batch_size) -> float:
    """The PyTorch tutorial loop: TensorDataset + DataLoader(shuffle=True), CrossEntropyLoss, Adam."""
    from torch.utils.data import DataLoader, TensorDataset

    model, loss_fn = _torch_model(), torch.nn.CrossEntropyLoss()
    opt = torch.optim.Adam(model.parameters(), lr=0.001)

    def train():
        loader = DataLoader(TensorDataset(torch.from_numpy(X), torch.from_numpy(Y.argmax(1))),
                            batch_size=batch_size, shuffle=True)
        model.train()
        for xb, yb in loader:
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
    return timed(train)


def torch_best(X, Y, batch_size, clip: float | None = None) -> float:
    """Best hand-written loop: tensors once, shuffled by index, fused Adam, set_to_none, no per-step sync
    (``clip``: plus ``clip_grad_norm_(foreach=True)``, the same work as deepscope's default)."""
    model = _torch_model()
    opt = torch.optim.Adam(model.parameters(), lr=0.001, fused=True)
    params = list(model.parameters())

    def train():
        x, y = torch.from_numpy(X), torch.from_numpy(Y.argmax(1))
        order = torch.randperm(len(x))
        for start in range(0, len(x), batch_size):
            idx = order[start:start + batch_size]
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(x[idx]), y[idx]).backward()
            if clip:
                torch.nn.utils.clip_grad_norm_(params, clip, foreach=True)
            opt.step()
    return timed(train)


def keras_epoch(X, Y, batch_size) -> float:
    import keras

    model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(50, activation="relu"),
                              keras.layers.Dense(25, activation="relu"), keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(0.001), loss="categorical_crossentropy")
    return timed(lambda: model.fit(X, Y, epochs=1, batch_size=batch_size, shuffle=True, verbose=0))


def run(quick: bool, repeats: int, batch_size: int):
    X, Y, _, _ = mnist()
    if batch_size == 1:  # 60,000 steps per epoch would take minutes per contender: time a slice
        n = 500 if quick else 3000
    else:
        n = 12800 if quick else len(X)
    X, Y = np.ascontiguousarray(X[:n]), np.ascontiguousarray(Y[:n])
    contenders = {
        "deepscope": lambda: deepscope_epoch(X, Y, batch_size),
        "deepscope no fast path": lambda: _plain(X, Y, batch_size),
        "deepscope diagnostics off": lambda: deepscope_epoch(X, Y, batch_size, diagnostics=False),
        "torch best": lambda: torch_best(X, Y, batch_size),
        "torch best + clip": lambda: torch_best(X, Y, batch_size, clip=5.0),
        "torch DataLoader": lambda: torch_dataloader(X, Y, batch_size),
    }
    if keras_available():
        contenders["keras[torch]"] = lambda: keras_epoch(X, Y, batch_size)
    results = interleave(contenders, repeats)
    model = _torch_model()
    xb, yb = torch.from_numpy(X[:batch_size]), torch.from_numpy(Y[:batch_size].argmax(1))
    steps = -(-n // batch_size)
    flops = count_flops(lambda: F.cross_entropy(model(xb), yb).backward()) * n / min(batch_size, n)
    for r in results.values():
        r.flops, r.samples = flops, n
    return f"MLP epoch b={batch_size} ({n:,} samples, {steps} steps)", results, "torch best"
