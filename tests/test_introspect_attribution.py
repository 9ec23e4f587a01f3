"""Attribution: saliency, gradient x input, integrated gradients, occlusion, their figure."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import deepscope as tflearn
from deepscope.data_preprocessing import DataPreprocessing
from deepscope.introspect.attribution import (completeness_gap, gradient_x_input, integrated_gradients,
                                              occlusion, plot_attribution, saliency)

W = np.array([[1.0, -2.0, 0.5, 3.0], [0.0, 1.0, -1.0, 2.0], [-3.0, 0.25, 2.0, -1.0]], dtype=np.float32)


def linear_model(bias=(0.1, -0.2, 0.3)):
    """Scores = W x + b: a fully_connected layer without activation, weights set by hand."""
    net = tflearn.input_data(shape=[None, 4])
    net = tflearn.fully_connected(net, 3, activation="linear")
    model = tflearn.DNN(tflearn.regression(net, loss="mean_square"))
    layer = model.net.layers["FullyConnected"]
    model.set_weights(layer.weight, W)
    model.set_weights(layer.bias, np.array(bias, dtype=np.float32))
    return model


def nonlinear_model():
    tflearn.set_seed(1)
    net = tflearn.input_data(shape=[None, 5])
    net = tflearn.fully_connected(net, 8, activation="tanh")
    net = tflearn.fully_connected(net, 3, activation="softmax")
    return tflearn.DNN(tflearn.regression(net))


def image_model():
    tflearn.set_seed(2)
    net = tflearn.input_data(shape=[None, 8, 8, 2])
    net = tflearn.conv_2d(net, 3, 3, activation="relu")
    net = tflearn.fully_connected(net, 4, activation="softmax")
    return tflearn.DNN(tflearn.regression(net))


X = np.array([[1.0, 2.0, -1.0, 0.5], [0.3, -0.7, 2.0, 1.0]], dtype=np.float32)


def test_linear_saliency_gradient_x_input_and_ig_are_exact():
    model = linear_model()
    target = [2, 1]
    np.testing.assert_allclose(saliency(model, X, target), np.abs(W[target]), rtol=1e-6)
    np.testing.assert_allclose(gradient_x_input(model, X, target), W[target] * X, rtol=1e-6)
    np.testing.assert_allclose(integrated_gradients(model, X, target, steps=8), W[target] * X, rtol=1e-5, atol=1e-6)
    predicted = (X @ W.T + [0.1, -0.2, 0.3]).argmax(1)
    np.testing.assert_allclose(saliency(model, X), np.abs(W[predicted]), rtol=1e-6)
    np.testing.assert_allclose(saliency(model, X, target=0), np.abs(W[[0, 0]]), rtol=1e-6)


def test_integrated_gradients_completeness_on_a_nonlinear_network():
    model = nonlinear_model()
    x = np.random.default_rng(0).normal(size=(3, 5)).astype(np.float32) * 2
    ig = integrated_gradients(model, x, steps=64)
    assert ig.shape == x.shape
    assert np.abs(completeness_gap(model, x, ig)).max() < 1e-2
    baseline = np.full(5, 0.5, dtype=np.float32)
    ig_b = integrated_gradients(model, x, target=1, baseline=baseline, steps=64)
    assert np.abs(completeness_gap(model, x, ig_b, target=1, baseline=baseline)).max() < 1e-2


def test_occlusion_finds_the_only_informative_patch():
    net = tflearn.input_data(shape=[None, 8, 8, 1])
    net = tflearn.flatten(net)
    net = tflearn.fully_connected(net, 2, activation="linear")
    model = tflearn.DNN(tflearn.regression(net, loss="mean_square"))
    weight = np.zeros((2, 8, 8, 1), dtype=np.float32)
    weight[0, 4:8, 0:4] = 1.0  # class 0 only looks at the bottom-left patch
    layer = model.net.layers["FullyConnected"]
    model.set_weights(layer.weight, weight.reshape(2, 64))
    model.set_weights(layer.bias, np.zeros(2, dtype=np.float32))
    x = np.ones((1, 8, 8, 1), dtype=np.float32)
    occ = occlusion(model, x, target=0, patch=4, stride=4)
    assert occ.shape == x.shape
    assert np.unravel_index(occ[0, ..., 0].argmax(), (8, 8)) == (4, 0)
    np.testing.assert_allclose(occ[0, 4:8, 0:4], 16.0)
    np.testing.assert_allclose(occ[0, 0:4], 0.0)
    overlapping = occlusion(model, x, target=0, patch=4, stride=2)  # averages over covering patches
    assert overlapping[0, 6, 1, 0] == overlapping.max()


def test_image_shapes_mode_grads_and_hooks_are_left_as_found(tmp_path):
    model = image_model()
    model.net.train()
    x = np.random.default_rng(1).random((3, 8, 8, 2)).astype(np.float32)
    for fn in (saliency, gradient_x_input, integrated_gradients, occlusion):
        assert fn(model, x).shape == x.shape
    assert saliency(model, x, max_over_channels=True).shape == (3, 8, 8)
    assert all(m.training for m in model.net.modules())
    assert all(p.grad is None for p in model.net.parameters())
    assert all(p.requires_grad for p in model.net.parameters())
    assert not any(m._forward_hooks for m in model.net.modules())
    path = plot_attribution(x[0], saliency(model, x[:1])[0], tmp_path / "sal.png", title="saliency")
    assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    plot_attribution(x[0, ..., :1], gradient_x_input(model, x[:1]), tmp_path / "gxi.png")


def test_clear_errors():
    model = linear_model()
    with pytest.raises(ValueError, match=r"class indices in \[0, 2\]"):
        saliency(model, X, target=3)
    with pytest.raises(ValueError, match="one per sample"):
        saliency(model, X, target=[0, 1, 2])
    with pytest.raises(TypeError, match="integer class indices"):
        saliency(model, X, target=0.5)
    with pytest.raises(ValueError, match="baseline"):
        integrated_gradients(model, X, baseline=np.zeros(3))
    with pytest.raises(ValueError, match=r"occlusion X: expected images"):
        occlusion(model, X)
    with pytest.raises(ValueError, match="patch"):
        occlusion(image_model(), np.zeros((1, 8, 8, 2)), patch=9)
    with pytest.raises(ValueError, match="plot_attribution"):
        plot_attribution(np.zeros((8, 8, 1)), np.zeros((4, 4)), "unused.png")
    assert all(p.grad is None for p in model.net.parameters())


def test_plain_module_works_too():
    lin = torch.nn.Linear(4, 3)
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(W))
    np.testing.assert_allclose(gradient_x_input(lin, X, [0, 2]), W[[0, 2]] * X, rtol=1e-6)
    assert lin.weight.grad is None


def test_gradients_go_through_the_input_preprocessing():
    prep = DataPreprocessing()
    prep.add_featurewise_zero_center(mean=1.0)
    prep.add_featurewise_stdnorm(std=2.0)
    net = tflearn.input_data(shape=[None, 4], data_preprocessing=prep)
    net = tflearn.fully_connected(net, 3, activation="linear")
    model = tflearn.DNN(tflearn.regression(net, loss="mean_square"))
    model.set_weights(model.net.layers["FullyConnected"].weight, W)
    np.testing.assert_allclose(saliency(model, X, 1), np.abs(W[[1, 1]]) / 2, rtol=1e-6)
    ig = integrated_gradients(model, X, 1, baseline=1.0, steps=4)  # the baseline the network sees as 0
    np.testing.assert_allclose(ig, W[[1, 1]] * (X - 1) / 2, rtol=1e-5, atol=1e-6)


# -- SmoothGrad, Grad-CAM, layer and neuron attribution ---------------------------------------------
def cnn_model():
    tflearn.set_seed(3)
    net = tflearn.input_data(shape=[None, 10, 10, 2])
    net = tflearn.conv_2d(net, 4, 3, activation="relu")
    net = tflearn.max_pool_2d(net, 2)
    net = tflearn.fully_connected(net, 6, activation="tanh")
    net = tflearn.fully_connected(net, 3, activation="softmax")
    return tflearn.DNN(tflearn.regression(net))


def images(n=5, seed=0):
    return np.random.default_rng(seed).random((n, 10, 10, 2)).astype(np.float32)


def test_batched_integrated_gradients_equal_the_per_sample_path_and_stay_complete():
    model, x = cnn_model(), images(7)
    few = integrated_gradients(model, x, steps=16, internal_batch_size=5)  # paths split across passes
    many = integrated_gradients(model, x, steps=16, internal_batch_size=4096)
    np.testing.assert_allclose(few, many, atol=1e-6)
    gaps = [np.abs(completeness_gap(model, x, integrated_gradients(model, x, steps=s))).max() for s in (64, 512)]
    assert gaps[1] < gaps[0] / 4 and gaps[1] < 5e-3  # (max pooling's switches: the error falls as 1 / steps)


def test_smoothgrad_kinds_and_their_limits():
    from deepscope.introspect import smoothgrad

    model, x = nonlinear_model(), np.random.default_rng(0).normal(size=(4, 5)).astype(np.float32)
    plain = gradient_x_input(model, x) / np.where(x == 0, 1, x)  # the gradient
    tiny = smoothgrad(model, x, stdev=1e-6, n_samples=3)
    np.testing.assert_allclose(tiny, plain, atol=1e-4)
    var = smoothgrad(model, x, kind="vargrad", n_samples=16)
    squared = smoothgrad(model, x, kind="smoothgrad_sq", n_samples=16)
    mean = smoothgrad(model, x, n_samples=16)
    assert (var >= -1e-7).all() and np.allclose(var, squared - mean ** 2, atol=1e-6)
    with pytest.raises(ValueError, match="smoothgrad kind"):
        smoothgrad(model, x, kind="sharp")


def test_grad_cam_layer_and_neuron_attribution_behave():
    from deepscope.introspect import grad_cam, layer_integrated_gradients, neuron_integrated_gradients
    from deepscope.introspect.recording import layer_output, unit_activation

    model, x = cnn_model(), images()
    cam = grad_cam(model, x, "Conv2D")
    assert cam.shape == (5, 10, 10) and (cam >= 0).all()
    assert grad_cam(model, x, "Conv2D", upsample=False).shape == (5, 10, 10)  # ('same' padding)
    with pytest.raises(ValueError, match="grad_cam layer"):
        grad_cam(model, x, "FullyConnected")
    layer_ig = layer_integrated_gradients(model, x, "FullyConnected", steps=128)
    scores = model.net.logits(torch.as_tensor(x)).detach().numpy()
    zero = model.net.logits(torch.zeros_like(torch.as_tensor(x))).detach().numpy()
    target = scores.argmax(1)
    rows = np.arange(5)
    np.testing.assert_allclose(layer_ig.sum(1), scores[rows, target] - zero[rows, target], atol=2e-3)
    neuron = neuron_integrated_gradients(model, x, "Conv2D", unit=1, steps=512)
    with torch.no_grad():
        net = model.net
        value = unit_activation(layer_output(net, torch.as_tensor(x), "Conv2D"), 1, "u").numpy()
        base = unit_activation(layer_output(net, torch.zeros_like(torch.as_tensor(x)), "Conv2D"), 1, "u").numpy()
    assert neuron.shape == x.shape
    np.testing.assert_allclose(neuron.reshape(5, -1).sum(1), value - base, atol=2e-3)  # complete


def test_equal_to_captum():
    captum = pytest.importorskip("captum.attr")
    from deepscope.introspect import grad_cam, layer_integrated_gradients, neuron_integrated_gradients, smoothgrad

    model, x = cnn_model(), images(4)
    net = model.net
    forward = net.logits
    xt = torch.as_tensor(x)
    target = forward(xt).argmax(1).detach()
    # Captum's "riemann_trapezoid" weights n points by 1/n (ends halved): they sum to (n - 1) / n, so its
    # integral is ours (weights summing to 1) times 32/33; the same points and gradients otherwise
    trapezoid = 33 / 32
    ours = integrated_gradients(model, x, steps=32)
    theirs = captum.IntegratedGradients(forward).attribute(xt, target=target, n_steps=33, method="riemann_trapezoid")
    np.testing.assert_allclose(ours, trapezoid * theirs.detach().numpy(), atol=1e-5)
    torch.manual_seed(5)
    theirs = captum.NoiseTunnel(captum.Saliency(forward)).attribute(xt, nt_type="smoothgrad", nt_samples=8, stdevs=0.2,
                                                                     target=target, abs=False)
    np.testing.assert_allclose(smoothgrad(model, x, n_samples=8, stdev=0.2, seed=5), theirs.detach().numpy(), atol=1e-5)
    conv = net.layers["Conv2D"]
    theirs = captum.LayerGradCam(forward, conv).attribute(xt, target=target, relu_attributions=True)
    np.testing.assert_allclose(grad_cam(model, x, "Conv2D", upsample=False), theirs[:, 0].detach().numpy(), atol=1e-5)
    hidden = net.layers["FullyConnected"]
    theirs = captum.LayerIntegratedGradients(forward, hidden).attribute(xt, target=target, n_steps=33,
                                                                        method="riemann_trapezoid")
    np.testing.assert_allclose(layer_integrated_gradients(model, x, "FullyConnected"),
                               trapezoid * theirs.detach().numpy(), atol=1e-5)
    theirs = captum.LayerIntegratedGradients(forward, conv).attribute(xt, target=target, n_steps=33,
                                                                      method="riemann_trapezoid")
    np.testing.assert_allclose(layer_integrated_gradients(model, x, "Conv2D"),
                               trapezoid * theirs.permute(0, 2, 3, 1).detach().numpy(), atol=1e-5)  # (NHWC)
    theirs = captum.NeuronIntegratedGradients(forward, conv).attribute(
        xt, neuron_selector=lambda out: out[:, 2].mean((1, 2)), n_steps=33, method="riemann_trapezoid")
    np.testing.assert_allclose(neuron_integrated_gradients(model, x, "Conv2D", 2), trapezoid * theirs.detach().numpy(),
                               atol=1e-5)


def test_conductance_guided_backprop_and_attribution_over_seeds():
    from deepscope.introspect import (attribution_over_models, guided_backprop, guided_grad_cam, layer_conductance,
                                      saliency)

    model, x = cnn_model(), images()
    conductance = layer_conductance(model, x, "FullyConnected", steps=256)
    scores = model.net.logits(torch.as_tensor(x)).detach().numpy()
    zero = model.net.logits(torch.zeros(x.shape)).detach().numpy()
    rows, target = np.arange(5), scores.argmax(1)
    np.testing.assert_allclose(conductance.sum(1), scores[rows, target] - zero[rows, target], atol=5e-3)
    guided = guided_backprop(model, x)
    assert guided.shape == x.shape and not np.allclose(guided, saliency(model, x))  # (signed, ReLUs changed)
    assert all(not m._forward_hooks for m in model.net.modules())  # hooks removed
    assert guided_grad_cam(model, x, "Conv2D").shape == x.shape
    other = cnn_model()
    mean, sd, each = attribution_over_models(integrated_gradients, [model, other], x, target=0)
    assert each.shape == (2, *x.shape) and np.allclose(mean, each.mean(0)) and (sd >= 0).all()


def test_conductance_and_guided_backprop_equal_captum():
    captum = pytest.importorskip("captum.attr")
    from deepscope.introspect import guided_backprop, layer_conductance

    model, x = cnn_model(), images(4)
    forward, xt = model.net.logits, torch.as_tensor(x)
    target = forward(xt).argmax(1).detach()
    hidden = model.net.layers["FullyConnected"]
    theirs = captum.LayerConductance(forward, hidden).attribute(xt, target=target, n_steps=32, method="riemann_trapezoid")
    np.testing.assert_allclose(layer_conductance(model, x, "FullyConnected", steps=32), theirs.detach().numpy(),
                               atol=1e-5)

    class Logits(torch.nn.Module):  # the scores deepscope attributes (the output layer's logits), as a module
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, inputs):
            return self.net.logits(inputs)

    theirs = captum.GuidedBackprop(Logits(model.net)).attribute(xt, target=target)
    np.testing.assert_allclose(guided_backprop(model, x), theirs.detach().numpy(), atol=1e-6)
