"""Fast paths of the training loop give the results of the plain path (same seed, within tolerance)."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import deepscope as tflearn
from deepscope.models.trainer import Trainer, clip_grad_norm, folds_grad_scale, unhooked_step


def _or_model(clip=5.0, optimizer="sgd", lr=2.0):
    net = tflearn.input_data(shape=[None, 2])
    net = tflearn.fully_connected(net, 1, activation="sigmoid")
    net = tflearn.regression(net, optimizer=optimizer, learning_rate=lr, loss="mean_square")
    return tflearn.DNN(net, clip_gradients=clip)


def _mlp(loss="categorical_crossentropy", out_act="softmax", hidden=("relu", "tanh"), out_units=3, penalty=None):
    net = tflearn.input_data(shape=[None, 5])
    net = tflearn.fully_connected(net, 7, activation=hidden[0], regularizer=penalty)
    net = tflearn.fully_connected(net, 6, activation=hidden[1])
    net = tflearn.fully_connected(net, out_units, activation=out_act)
    net = tflearn.regression(net, optimizer="adam", learning_rate=0.05, loss=loss)
    return tflearn.DNN(net)


def _trainer(model, X, Y, batch_size=None):
    xs, y = model.prepare_data(X, Y, "X", "Y")
    model.ensure_optimizer(10)
    from deepscope.callbacks.base import CallbackList, TrainingState
    from deepscope.models import FitSettings

    state = TrainingState(model=model, n_epoch=1, steps_per_epoch=1, batch_size=len(y), n_samples=len(y))
    settings = FitSettings.check(len(y), 1, batch_size or len(y), False)
    return Trainer(model, xs, y, settings, CallbackList([]), state), xs, y


def _plain_steps(model, xs, y, steps):
    """The reference: autograd, torch.nn.utils.clip_grad_norm_, optimizer.step()."""
    params = [p for p in model.net.parameters() if p.requires_grad]
    for _ in range(steps):
        model.optimizer.zero_grad(set_to_none=True)
        _, loss = model.compute_loss(xs, y)
        loss.backward()
        if model.clip_gradients:
            torch.nn.utils.clip_grad_norm_(params, model.clip_gradients)
        model.optimizer.step()


def _twin(model):
    return copy.deepcopy(model)


# -- clipping folded into the fused optimizer step -------------------------------------------------
@pytest.mark.parametrize("optimizer", [torch.optim.SGD, torch.optim.Adam, torch.optim.AdamW, torch.optim.Adagrad])
def test_clip_via_grad_scale_equals_clip_grad_norm(optimizer):
    torch.manual_seed(1)
    net_a = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    net_b = copy.deepcopy(net_a)
    kwargs = {"lr": 0.1} if optimizer is not torch.optim.SGD else {"lr": 0.5, "momentum": 0.9}
    opt_a = optimizer(net_a.parameters(), fused=True, **kwargs)
    opt_b = optimizer(net_b.parameters(), **kwargs)
    assert folds_grad_scale(opt_a) and not folds_grad_scale(opt_b)
    x, y = torch.randn(16, 4) * 5, torch.randn(16, 2) * 5
    for step in range(6):
        max_norm = 0.5 if step % 2 else 1e6  # clipping on and off
        for net, opt in ((net_a, opt_a), (net_b, opt_b)):
            opt.zero_grad(set_to_none=True)
            F.mse_loss(net(x), y).backward()
        norm = clip_grad_norm(list(net_a.parameters()), max_norm, opt_a)
        ref = torch.nn.utils.clip_grad_norm_(list(net_b.parameters()), max_norm)
        torch.testing.assert_close(norm, ref)
        opt_a.step()
        opt_b.step()
        for pa, pb in zip(net_a.parameters(), net_b.parameters()):
            torch.testing.assert_close(pa, pb, rtol=1e-6, atol=1e-6)


def test_clip_multiply_path_equals_clip_grad_norm():
    torch.manual_seed(2)
    ours = [torch.nn.Parameter(torch.randn(3, 3)), torch.nn.Parameter(torch.randn(3))]
    ref = [torch.nn.Parameter(p.detach().clone()) for p in ours]
    for a, b in zip(ours, ref):
        a.grad = torch.randn_like(a) * 10
        b.grad = a.grad.clone()
    norm = clip_grad_norm(ours, 1.0)
    torch.testing.assert_close(norm, torch.nn.utils.clip_grad_norm_(ref, 1.0))
    for a, b in zip(ours, ref):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-6, atol=1e-6)


def test_fit_with_folded_clip_equals_plain_path():
    X = [[0., 0.], [0., 1.], [1., 0.], [1., 1.]]
    Y = [[0.], [1.], [1.], [1.]]
    torch.manual_seed(0)
    fast = _or_model(clip=0.05, lr=5.0)  # a small clip norm: every step is clipped
    plain = _twin(fast)
    trainer, xs, y = _trainer(fast, X, Y)
    assert trainer.fold_clip
    for _ in range(20):
        trainer.train_step(xs, y)
    plain.ensure_optimizer(10)
    plain.optimizer = torch.optim.SGD(plain.net.parameters(), lr=5.0)  # unfused, no fast path at all
    _plain_steps(plain, xs, y, 20)
    for pa, pb in zip(fast.net.parameters(), plain.net.parameters()):
        torch.testing.assert_close(pa, pb, rtol=1e-5, atol=1e-6)


# -- the small-model path (analytic gradients of Dense chains) ----------------------------------------
@pytest.mark.parametrize("case", ["or_mse", "softmax_ce_indices", "softmax_ce_soft", "sigmoid_bce", "mse_linear"])
def test_dense_chain_equals_autograd(case):
    torch.manual_seed(3)
    rng = np.random.default_rng(3)
    X = rng.normal(size=(12, 5)).astype(np.float32)
    if case == "or_mse":
        X = np.array([[0., 0.], [0., 1.], [1., 0.], [1., 1.]], np.float32)
        Y = np.array([[0.], [1.], [1.], [1.]], np.float32)
        model = _or_model(clip=None)
    elif case == "softmax_ce_indices":
        Y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 12)]  # one-hot: becomes class indices
        model = _mlp()
    elif case == "softmax_ce_soft":
        Y = rng.dirichlet(np.ones(3), 12).astype(np.float32)
        model = _mlp()
    elif case == "sigmoid_bce":
        Y = rng.integers(0, 2, (12, 3)).astype(np.float32)
        model = _mlp("binary_crossentropy", "sigmoid", ("sigmoid", "linear"))
    else:
        Y = rng.normal(size=(12, 1)).astype(np.float32)
        model = _mlp("mean_square", "linear", ("tanh", "relu"), out_units=1)
    plain = _twin(model)
    trainer, xs, y = _trainer(model, X, Y)
    assert trainer.dense_chain is not None
    for _ in range(5):
        out_fast, loss_fast = trainer.dense_chain.loss_and_grads(xs[0], y)
        grads_fast = [p.grad.clone() for p in model.net.parameters()]
        out_ref, loss_ref = plain.compute_loss(xs, y)
        for p in plain.net.parameters():
            p.grad = None
        loss_ref.backward()
        torch.testing.assert_close(loss_fast, loss_ref.detach(), rtol=1e-5, atol=1e-7)
        torch.testing.assert_close(out_fast, out_ref.detach(), rtol=1e-5, atol=1e-6)
        for g, p in zip(grads_fast, plain.net.parameters()):
            torch.testing.assert_close(g, p.grad, rtol=1e-4, atol=1e-6)
        with torch.no_grad():  # take the same (plain SGD) step on both
            for a, b in zip(model.net.parameters(), plain.net.parameters()):
                a -= 0.5 * a.grad
                b -= 0.5 * b.grad


def test_dense_chain_fit_equals_plain_fit():
    X = [[0., 0.], [0., 1.], [1., 0.], [1., 1.]]
    Y = [[0.], [1.], [1.], [1.]]
    torch.manual_seed(0)
    fast = _or_model()
    plain = _twin(fast)
    fast.fit(X, Y, n_epoch=50, snapshot_epoch=False)
    trainer, xs, y = _trainer(plain, X, Y)
    trainer.dense_chain = None  # the autograd path
    trainer.fold_clip = False
    for _ in range(50):
        trainer.train_step(xs, y)
    for pa, pb in zip(fast.net.parameters(), plain.net.parameters()):
        torch.testing.assert_close(pa, pb, rtol=1e-5, atol=1e-6)


def test_dense_chain_not_used_where_it_does_not_apply():
    X = np.random.default_rng(0).normal(size=(8, 5)).astype(np.float32)
    Y = np.eye(3, dtype=np.float32)[[0, 1, 2, 0, 1, 2, 0, 1]]
    assert _trainer(_mlp(penalty="L2"), X, Y)[0].dense_chain is None  # L1/L2 penalties
    net = tflearn.input_data(shape=[None, 5])
    net = tflearn.fully_connected(net, 6, activation="relu")
    net = tflearn.dropout(net, 0.5)
    net = tflearn.fully_connected(net, 3, activation="softmax")
    model = tflearn.DNN(tflearn.regression(net))
    assert _trainer(model, X, Y)[0].dense_chain is None  # dropout
    model = _mlp(hidden=("elu", "relu"))
    assert _trainer(model, X, Y)[0].dense_chain is None  # an activation without a closed-form gradient here
    model = _mlp()
    model.net._chain[0].register_forward_hook(lambda *a: None)
    assert _trainer(model, X, Y)[0].dense_chain is None  # hooks must run


# -- the unhooked optimizer step, minibatch indexing, channels_last convolutions ---------------------
def test_unhooked_step_equals_hooked_step():
    torch.manual_seed(4)
    a = torch.nn.Linear(3, 2)
    b = copy.deepcopy(a)
    opt_a, opt_b = torch.optim.Adam(a.parameters(), lr=0.1), torch.optim.Adam(b.parameters(), lr=0.1)
    step = unhooked_step(opt_a)
    assert step is not opt_a.step
    x = torch.randn(5, 3)
    for _ in range(3):
        for m in (a, b):
            m.zero_grad()
            m(x).square().sum().backward()
        step()
        opt_b.step()
    for pa, pb in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(pa, pb)
    opt_a.register_step_post_hook(lambda *args: None)
    assert unhooked_step(opt_a) == opt_a.step  # hooks registered: the wrapped step runs them


def test_full_batch_path_equals_indexing_path():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(16, 5)).astype(np.float32)
    Y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 16)]
    model = _mlp()
    trainer, xs, y = _trainer(model, X, Y, batch_size=16)
    assert trainer.full_batch
    (bx, by), = list(trainer.batches())
    order = torch.randperm(16)
    trainer.full_batch, trainer.batch_size = False, 16  # the indexing path over one batch
    (ix, iy), = list(trainer.batches(order))
    _, full_loss = model.compute_loss(bx, by)
    _, idx_loss = model.compute_loss(ix, iy)
    torch.testing.assert_close(full_loss, idx_loss, rtol=1e-6, atol=1e-7)  # same samples, other order


def test_convolutions_keep_channels_last_and_match_contiguous():
    net = tflearn.input_data(shape=[None, 8, 8, 3])
    net = tflearn.conv_2d(net, 4, 3, activation="relu")
    net = tflearn.max_pool_2d(net, 2)
    net = tflearn.conv_2d(net, 5, 3, activation="relu")
    net = tflearn.fully_connected(net, 2, activation="softmax")
    model = tflearn.DNN(tflearn.regression(net))
    x = torch.rand(4, 8, 8, 3)  # NHWC, as users give it
    seen = []
    for layer in model.net._chain:
        layer.register_forward_hook(lambda m, i, o: seen.append((type(m).__name__, o)))
    model.net.train()
    out = model.net(x)
    convs = [o for name, o in seen if name in ("Conv", "Pool")]
    assert convs and all(o.is_contiguous(memory_format=torch.channels_last) for o in convs)
    # the same network on a contiguous NCHW copy of the input gives the same output
    seen.clear()
    internal = x.permute(0, 3, 1, 2).contiguous()
    h = internal
    for layer in model.net._chain[1:]:
        h = layer(h)
    torch.testing.assert_close(out, h, rtol=1e-5, atol=1e-6)


def test_bf16_autocast_trains_close_to_float32():
    """``mixed_precision='bf16'`` (the default on GPUs with bfloat16; testable on CPU) computes the
    layers in bfloat16 and the loss in float32; training ends close to the float32 run."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(128, 6)).astype("float32")
    Y = tflearn.data_utils.to_categorical((X[:, 0] + X[:, 1] > 0).astype(int), 2)

    def model(precision):
        tflearn.set_seed(0)
        net = tflearn.input_data(shape=[None, 6])
        net = tflearn.fully_connected(net, 16, activation="relu")
        net = tflearn.fully_connected(net, 2, activation="softmax")
        return tflearn.DNN(tflearn.regression(net, learning_rate=0.01), mixed_precision=precision)

    full, half = model(None), model("bf16")
    assert full.autocast_dtype is None and half.autocast_dtype is torch.bfloat16
    assert tflearn.DNN(tflearn.regression(tflearn.fully_connected(tflearn.input_data(shape=[None, 2]), 1)),
                       device="cpu").autocast_dtype is None  # 'auto' is off on a CPU
    for m in (full, half):
        m.fit(X, Y, n_epoch=20, batch_size=32, seed=1, snapshot_epoch=False)
    assert abs(full.history[-1]["loss"] - half.history[-1]["loss"]) < 0.05
    assert half.evaluate(X, Y)[0] > 0.9
    assert half.predict(X).dtype == np.float32
    with pytest.raises(ValueError, match="mixed_precision"):
        model("fp8")


def test_a_subclass_overriding_compute_loss_is_never_bypassed_by_the_small_network_path():
    """The hand-written backward pass of tiny dense chains must not skip a user's compute_loss."""
    import deepscope as tflearn

    class Counting(tflearn.DNN):
        calls = 0

        def compute_loss(self, xs, y):
            Counting.calls += 1
            output, loss = super().compute_loss(xs, y)
            return output, loss * 2.0

    net = tflearn.input_data(shape=[None, 2])
    net = tflearn.fully_connected(net, 1, activation="sigmoid")
    model = Counting(tflearn.regression(net, optimizer="sgd", learning_rate=1.0, loss="mean_square"))
    model.fit([[0., 0.], [0., 1.], [1., 0.], [1., 1.]], [[0.], [1.], [1.], [1.]], n_epoch=5, diagnostics=False)
    assert Counting.calls == 5


def _small_or_model(seed=0):
    import deepscope as tflearn

    tflearn.set_seed(seed)
    net = tflearn.input_data(shape=[None, 2])
    net = tflearn.fully_connected(net, 4, activation="tanh")
    net = tflearn.fully_connected(net, 1, activation="sigmoid")
    return tflearn.DNN(tflearn.regression(net, optimizer="sgd", learning_rate=1.0, loss="mean_square"))


OR_X, OR_Y = [[0., 0.], [0., 1.], [1., 0.], [1., 1.]], [[0.], [1.], [1.], [1.]]


def test_a_trainer_subclass_with_its_own_train_step_trains():
    """The extension point: a Trainer subclass's train_step runs every step (the fast path never
    replaces it) and trains with the helpers zero_grad / apply_gradients."""
    from deepscope.models import Trainer

    class HalfLoss(Trainer):
        calls = 0

        def train_step(self, xs, y):
            HalfLoss.calls += 1
            output, loss = self.dnn.compute_loss(xs, y)
            self.zero_grad()
            (0.5 * loss).backward()
            self.apply_gradients(loss)
            return loss.detach(), output

    model = _small_or_model()
    before = model.evaluate(OR_X, OR_Y)[0]
    model.fit(OR_X, OR_Y, n_epoch=200, diagnostics=False, trainer=HalfLoss)
    assert HalfLoss.calls == 200 and model.step == 200
    assert model.evaluate(OR_X, OR_Y)[0] == 1.0 and before < 1.0
    plain = _small_or_model()  # the same start without the halving ends elsewhere: the override really ran
    plain.fit(OR_X, OR_Y, n_epoch=200, diagnostics=False)
    assert not all(torch.equal(a, b) for a, b in zip(plain.net.parameters(), model.net.parameters()))


def test_a_trainer_subclass_calling_super_never_takes_the_fast_path():
    """A subclass may change anything around the step: the hand-written backward pass is off for it,
    and its results equal the plain autograd path's exactly."""
    from deepscope.models import Trainer

    class Logged(Trainer):
        losses = []

        def train_step(self, xs, y):
            loss, output = super().train_step(xs, y)
            Logged.losses.append(loss)
            return loss, output

    model = _small_or_model()
    model.fit(OR_X, OR_Y, n_epoch=3, diagnostics=False, trainer=Logged)
    assert len(Logged.losses) == 3
    fast = _small_or_model()
    fast.fit(OR_X, OR_Y, n_epoch=3, diagnostics=False)
    assert fast.step == 3
    xs, y = model.prepare_data(OR_X, OR_Y, "X", "Y")
    from deepscope.callbacks.base import CallbackList
    from deepscope.models import FitSettings
    settings = FitSettings.check(4, 1, 4, False)
    assert Logged(model, xs, y, settings, CallbackList([])).dense_chain is None
    assert Trainer(model, xs, y, settings, CallbackList([])).dense_chain is not None


def test_fit_refuses_a_trainer_that_is_not_a_trainer_class():
    from deepscope.models import Trainer

    model = _small_or_model()
    with pytest.raises(TypeError, match="subclass of deepscope.models.Trainer"):
        model.fit(OR_X, OR_Y, n_epoch=1, trainer=object)
    with pytest.raises(TypeError, match="the class, not an instance"):
        model.fit(OR_X, OR_Y, n_epoch=1, trainer=Trainer.__new__(Trainer))


def test_a_function_schedule_is_refused_at_save_time_not_at_load_time(tmp_path):
    import deepscope as tflearn

    sgd = tflearn.optimizers.SGD(learning_rate=0.1, schedule=lambda step: 0.5 ** step)
    net = tflearn.regression(tflearn.fully_connected(tflearn.input_data([None, 2]), 1), optimizer=sgd,
                             loss="mean_square")
    model = tflearn.DNN(net)
    with pytest.warns(RuntimeWarning, match="model file was not written"):
        model.fit([[0., 1.]] * 4, [[1.]] * 4, n_epoch=1)  # the run folder's model file: refused, said
    with pytest.raises(ValueError, match="cannot be written to JSON"):
        model.save(tmp_path / "m.safetensors")
    assert not (tmp_path / "m.safetensors").exists()
    clone = type(sgd)(**sgd.config)
    assert clone.schedule is sgd.schedule


def test_graph_networks_use_the_fused_softmax_cross_entropy():
    """A merge of two inputs ending in softmax: the loss comes from the logits (not log of clamped
    probabilities), and it equals cross-entropy of the activated output."""
    import deepscope as tflearn

    a, b = tflearn.input_data([None, 3], name="a"), tflearn.input_data([None, 2], name="b")
    net = tflearn.merge([tflearn.fully_connected(a, 4, activation="relu"), tflearn.fully_connected(b, 4)], "concat")
    net = tflearn.regression(tflearn.fully_connected(net, 3, activation="softmax"))
    model = tflearn.DNN(net)
    assert model.fused and model.net.output_activation == "softmax"
    rng = np.random.default_rng(0)
    xa, xb = torch.tensor(rng.random((8, 3)), dtype=torch.float32), torch.tensor(rng.random((8, 2)), dtype=torch.float32)
    y = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    logits, loss = model.compute_loss([xa, xb], y)
    probabilities = model.net(xa, xb)
    assert torch.allclose(torch.softmax(logits, 1), probabilities, atol=1e-6)
    assert torch.allclose(loss, torch.nn.functional.nll_loss(probabilities.log(), y), atol=1e-5)
    model.fit({"a": xa.numpy(), "b": xb.numpy()}, np.eye(3)[y.numpy()], n_epoch=2, diagnostics=False)
