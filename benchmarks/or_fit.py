"""The seed's OR network: Linear(2, 1) + sigmoid, mean-square loss, SGD lr=2, 4 samples, 2000
full-batch epochs. Almost pure per-step overhead: a test of the training loop itself."""
from __future__ import annotations

import torch

from .common import count_flops, fast_paths_off, interleave, keras_available, quiet, timed

X = [[0., 0.], [0., 1.], [1., 0.], [1., 1.]]
Y = [[0.], [1.], [1.], [1.]]


def deepscope_fit(epochs: int, clip=5.0, diagnostics=True) -> float:
    import deepscope as tflearn

    tflearn.init_graph()
    net = tflearn.input_data(shape=[None, 2])
    net = tflearn.fully_connected(net, 1, activation="sigmoid")
    net = tflearn.regression(net, optimizer="sgd", learning_rate=2, loss="mean_square")
    model = tflearn.DNN(net, clip_gradients=clip)  # TFlearn's default clip_gradients=5.0
    with quiet():
        return timed(lambda: model.fit(X, Y, n_epoch=epochs, snapshot_epoch=False, diagnostics=diagnostics))


def _plain(epochs: int) -> float:
    with fast_paths_off():
        return deepscope_fit(epochs)


def torch_dataloader(epochs: int) -> float:
    """The PyTorch tutorial loop: TensorDataset + DataLoader, zero_grad / backward / step."""
    from torch.utils.data import DataLoader, TensorDataset

    model = torch.nn.Sequential(torch.nn.Linear(2, 1), torch.nn.Sigmoid())
    opt = torch.optim.SGD(model.parameters(), lr=2)
    loss_fn = torch.nn.MSELoss()
    loader = DataLoader(TensorDataset(torch.tensor(X), torch.tensor(Y)), batch_size=4, shuffle=True)

    def train():
        for _ in range(epochs):
            for xb, yb in loader:
                opt.zero_grad()
                loss = loss_fn(model(xb), yb)
                loss.backward()
                opt.step()
    return timed(train)


def torch_best(epochs: int, clip: float | None = None) -> float:
    """Hand-written, the issue's reference: nn.Linear + optim.SGD on the tensors directly
    (``clip``: plus ``clip_grad_norm_(foreach=True)``, the same work as deepscope's default)."""
    lin = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(lin.parameters(), lr=2)
    x, y = torch.tensor(X), torch.tensor(Y)
    params = list(lin.parameters())

    def train():
        for _ in range(epochs):
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(torch.sigmoid(lin(x)), y)
            loss.backward()
            if clip:
                torch.nn.utils.clip_grad_norm_(params, clip, foreach=True)
            opt.step()
    return timed(train)


def keras_fit(epochs: int) -> float:
    import keras
    import numpy as np

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=2.0), loss="mse")
    x, y = np.array(X, np.float32), np.array(Y, np.float32)
    return timed(lambda: model.fit(x, y, epochs=epochs, batch_size=4, verbose=0))


def run(quick: bool, repeats: int):
    epochs = 500 if quick else 2000
    contenders = {
        "deepscope": lambda: deepscope_fit(epochs),
        "deepscope clip=None": lambda: deepscope_fit(epochs, clip=None),
        "deepscope diagnostics off": lambda: deepscope_fit(epochs, diagnostics=False),
        "deepscope clip=None diag. off": lambda: deepscope_fit(epochs, clip=None, diagnostics=False),
        "deepscope no fast path": lambda: _plain(epochs),
        "torch best": lambda: torch_best(epochs),
        "torch best + clip": lambda: torch_best(epochs, clip=5.0),
        "torch DataLoader": lambda: torch_dataloader(epochs),
    }
    if keras_available():
        contenders["keras[torch]"] = lambda: keras_fit(epochs)
    results = interleave(contenders, repeats)
    lin = torch.nn.Linear(2, 1)
    x, y = torch.tensor(X), torch.tensor(Y)
    flops = count_flops(lambda: torch.nn.functional.mse_loss(torch.sigmoid(lin(x)), y).backward()) * epochs
    for r in results.values():
        r.flops, r.samples = flops, 4 * epochs
    return f"OR fit ({epochs} epochs)", results, "torch best"
