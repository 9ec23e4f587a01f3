"""What the rules know about a fit besides its step records: the recipe (optimizer, loss, output,
layer widths, batch normalization), the data (input scale, class shares, whether the labels can be
predicted from the inputs at all) and the end state (training accuracy, predicted classes).

Everything here is measured once, at the end of a fit, on training samples evenly spaced over the
training set (at most 512, and at most 1% of the samples the fit trained on, at least the probe's,
whose final pass is reused: one forward pass in evaluation mode, in chunks), so it costs under 0.5%
of the fit. The two data checks (a leave-one-out nearest-neighbour accuracy and a
ridge readout of the inputs) run only when training ended near chance or a narrow layer may be the
bottleneck.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

from ..utils import evaluation_pass

EVAL_SAMPLES = 512  # at most this many training samples for the end-of-fit accuracy and the data checks
EVAL_FRACTION = 0.01  # and at most 1% of the samples the fit trained on (its forward pass: < 0.5% of the fit)
CHUNK = 500
ADAPTIVE = ("adam", "adamw", "rmsprop", "adagrad", "adadelta", "ftrl", "proximaladagrad")
RELU_LIKE = ("relu", "relu6", "leaky_relu", "prelu", "elu", "crelu", "selu", "softplus")


@dataclass
class FitFacts:
    """What the rules need to know about the fit besides the step records.

    Attributes (the first group as before; the rest measured at the end of the fit):
        optimizer: the optimizer's registry name (``'sgd'``, ``'adam'``, ...); adaptive: whether its
            update size is about the learning rate whatever the gradient (Adam, RMSProp, ...).
        loss_name / output_activation: the loss and the output layer's activation.
        binary: one sigmoid output unit (a two-class task).
        history: the fit's epoch logs (``loss``, ``val_loss``, ``val_acc``, ...).
        train_accuracy: accuracy on evenly spaced training samples (evaluation mode; ``eval_samples``
            of them).
        chance: the accuracy of always predicting the most frequent training class.
        class_shares: the share of each class in the training labels.
        knn_accuracy: leave-one-out nearest-neighbour accuracy of the labels from the raw inputs
            (None when not measured); knn_by_chance: what it would be if the labels did not depend on
            the inputs (sum of squared class shares): near it, the labels cannot be predicted.
        linear_accuracy: training accuracy of a ridge readout of the raw inputs (None: not measured).
        linear_heldout: accuracy of that readout fitted on half of the samples and tested on the
            other half: what a linear model of the inputs generalizes to (None: not measured).
        hidden_units: units of each fully connected hidden layer, in order.
        hidden_layers: hidden layers with weights of any kind (dense, convolutional, recurrent).
        saturating_layers: hidden layers with a sigmoid/tanh activation.
        batch_norm: the network has a batch-normalization layer.
        input_scale: the largest absolute input value on the probe.
        large_inputs: how many input features (of ``n_inputs``) reach above 20 in absolute value on the probe.
        init_scale: per layer, the weights' standard deviation at the first record over the
            He (ReLU-like) or Glorot (others) standard deviation.
        nonfinite_step: the step a NaN/Inf loss or gradient stopped the fit at (None: it did not).
        shuffle: whether the fit shuffled its samples every epoch.
        batch_purity: without shuffling, the mean share of the most frequent class in each batch of
            the fixed order (None: not measured); near 1, the data are sorted by class.
        dropout_keep: per dropout layer, the probability of keeping a unit in training.
        momentum: the optimizer's momentum (SGD momentum / Nesterov; None: none).
        learning_rates: ``(step, learning rate)`` at the diagnostic steps (a schedule's course; [] when
            not recorded, e.g. a vectorized study's model).
        target_mean, target_std, target_min, target_max: the training targets' statistics (regression: a
            network that is not a classifier; None otherwise).
        train_r2: the coefficient of determination of the network's outputs on evenly spaced training
            samples (regression; None otherwise).
        varying_inputs: how many input features take more than one value over the ``data_samples``
            (None: not measured); 0: every sample has the same inputs.
        validation_shift, validation_scale: the validation inputs' mean minus the training inputs' mean, in
            training standard deviations, and the ratio of their standard deviations (all features pooled,
            ``validation_samples`` evenly spaced validation samples; None: no validation set measured).
        empty_label_rows, multi_label_rows: of a classifier's one-hot target rows (all of them), how many are
            all zeros (no class) and how many hold more than one class (None: not one-hot targets).
        distinct_inputs: how many different inputs the ``data_samples`` hold (measured when the fit looks
            overfitted; None otherwise): far fewer than the samples, the training set repeats itself.
    """
    n_samples: int
    batch_size: int
    drop_last: bool
    learning_rate: float | None
    clip_gradients: float
    n_outputs: int | None  # units of the output layer (classes for a classifier)
    classifier: bool
    n_predicted_classes: int | None
    majority_class: int | None
    majority_fraction: float | None
    output_spread: float | None  # std of the outputs over probe samples, averaged over units
    final_dead: dict  # layer -> fraction at the last record
    final_saturated: dict
    optimizer: str | None = None
    adaptive: bool = False
    loss_name: str | None = None
    output_activation: str | None = None
    binary: bool = False
    history: list = field(default_factory=list)
    train_accuracy: float | None = None
    chance: float | None = None
    class_shares: list | None = None
    knn_accuracy: float | None = None
    knn_by_chance: float | None = None
    linear_accuracy: float | None = None
    linear_heldout: float | None = None
    hidden_units: list = field(default_factory=list)
    hidden_layers: int = 0
    saturating_layers: int = 0
    batch_norm: bool = False
    input_scale: float | None = None
    large_inputs: int = 0
    n_inputs: int = 0
    init_scale: dict = field(default_factory=dict)
    nonfinite_step: int | None = None  # the step a NaN/Inf stopped the fit at
    eval_samples: int = 0  # how many training samples train_accuracy used
    data_samples: int = 0  # how many the data checks (nearest neighbour, ridge readout) used
    shuffle: bool = True
    batch_purity: float | None = None
    dropout_keep: dict = field(default_factory=dict)
    momentum: float | None = None
    learning_rates: list = field(default_factory=list)
    target_mean: float | None = None
    target_std: float | None = None
    target_min: float | None = None
    target_max: float | None = None
    train_r2: float | None = None
    varying_inputs: int | None = None
    validation_shift: float | None = None
    validation_scale: float | None = None
    validation_samples: int = 0
    empty_label_rows: int | None = None
    multi_label_rows: int | None = None
    distinct_inputs: int | None = None

    @property
    def val_accuracy(self) -> float | None:
        """The last epoch's validation accuracy (None without one)."""
        for logs in reversed(self.history):
            for key in ("val_acc", "val_accuracy"):
                if isinstance(logs.get(key), (int, float)):
                    return float(logs[key])
        return None

    @property
    def near_chance(self) -> bool:
        """Training ended with a training accuracy within a tenth of the way from always guessing
        the most frequent class to perfect."""
        return (self.train_accuracy is not None and self.chance is not None
                and self.train_accuracy <= self.chance + 0.1 * (1 - self.chance))

    @property
    def underperforms(self) -> bool:
        """The network's training accuracy is 10 points below what a linear readout of the raw inputs
        reaches on samples it was not fitted on (a broken run, whatever the task's difficulty)."""
        return (self.train_accuracy is not None and self.linear_heldout is not None
                and self.train_accuracy < self.linear_heldout - 0.1)

    @property
    def labels_known(self) -> bool:
        return self.chance is not None and self.train_accuracy is not None


def optimizer_name(dnn) -> str | None:
    spec = getattr(dnn, "optimizer_spec", None)
    name = getattr(spec, "registry_name", None) or (type(spec).__name__ if spec is not None else None)
    if name is None and isinstance(getattr(dnn.config, "optimizer", None), str):
        name = dnn.config.optimizer
    return None if name is None else str(name).lower()


def loss_name(dnn) -> str | None:
    loss = getattr(dnn, "loss", None)
    name = getattr(loss, "name", None)
    if not isinstance(name, str) or name == "loss":
        name = getattr(dnn.config, "loss", None)
    return name if isinstance(name, str) else type(loss).__name__


def reference_std(module: nn.Module, weight: torch.Tensor) -> float | None:
    """He's (ReLU-like activations) or Glorot's standard deviation for this weight, or None."""
    if weight.dim() < 2:
        return None
    receptive = weight[0][0].numel() if weight.dim() > 2 else 1
    fan_out, fan_in = weight.shape[0] * receptive, weight.shape[1] * receptive
    activation = getattr(module, "activation_name", None)
    if activation in RELU_LIKE:
        return math.sqrt(2.0 / fan_in)
    return math.sqrt(2.0 / (fan_in + fan_out))


def init_scales(layers) -> dict:
    """Per monitored layer: its weight's std over the He/Glorot std (measured before training)."""
    scales = {}
    for layer in layers:
        weight = getattr(layer.module, "weight", None)
        if not isinstance(weight, torch.Tensor) or weight.dim() < 2 or weight.numel() < 16:
            continue
        ref = reference_std(layer.module, weight)
        if ref:
            scales[layer.name] = float(weight.detach().float().std()) / ref
    return scales


def network_shape(net: nn.Module, layers) -> tuple[list, int, bool, int]:
    """Hidden widths (fully connected layers, the last one excluded: the output; convolutions carry
    maps, not a few numbers, and recurrent layers a state: both are left out of the widths), saturating
    hidden layers, whether the network normalizes batches, and how many hidden layers with weights it has
    (dense, convolutional or recurrent: any layer with a weight matrix or kernel before the output)."""
    weighted = [layer for layer in layers if any(p.dim() >= 2 for p in layer.module.parameters())]
    hidden = weighted[:-1]
    units = [int(layer.module.weight.shape[0]) for layer in hidden
             if isinstance(getattr(layer.module, "weight", None), torch.Tensor) and layer.module.weight.dim() == 2]
    saturating = sum(getattr(layer.module, "activation_name", None) in ("sigmoid", "tanh") for layer in hidden)
    batch_norm = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in net.modules())
    return units, saturating, batch_norm, len(hidden)


def dropout_keep(net: nn.Module) -> dict:
    """``{layer name: keep probability}`` of a network's dropout layers (a deepscope ``Network``'s named layers,
    or any module's submodules)."""
    layers = getattr(net, "layers", None)
    named = layers.items() if isinstance(layers, nn.ModuleDict) else net.named_modules()
    return {name: 1.0 - float(module.p) for name, module in named
            if isinstance(module, nn.modules.dropout._DropoutNd)}


def momentum_of(optimizer) -> float | None:
    """The momentum of a torch optimizer's first parameter group (None: it has none)."""
    groups = getattr(optimizer, "param_groups", None)
    value = groups[0].get("momentum") if groups else None
    return float(value) if isinstance(value, (int, float)) and value > 0 else None


def class_targets(y: torch.Tensor, n_outputs: int | None, binary: bool) -> torch.Tensor | None:
    """Class indices of the targets (one-hot rows, integer labels, or 0/1 for a binary output)."""
    if binary:
        return (y.reshape(y.shape[0], -1)[:, 0] > 0.5).long()
    if y.dim() == 2 and n_outputs and y.shape[1] == n_outputs and n_outputs > 1:
        return y.argmax(1)
    if y.dim() == 1 and not y.is_floating_point():
        return y.long()
    return None


def evaluate_outputs(net: nn.Module, xs: list) -> torch.Tensor:
    """The network's outputs on ``xs`` in evaluation mode, in chunks (the mode restored after)."""
    n = xs[0].shape[0]
    with evaluation_pass(net):
        return torch.cat([net(*[x[i:i + CHUNK] for x in xs]).detach().float().reshape(min(CHUNK, n - i), -1)
                          for i in range(0, n, CHUNK)])


def batch_purity(labels: torch.Tensor, batch_size: int) -> float:
    """The mean share of the most frequent class in each batch of ``labels`` taken in order."""
    labels = labels.reshape(-1).cpu()
    n_batches = max(1, labels.numel() // batch_size)
    shares = [float(torch.bincount(labels[i * batch_size:(i + 1) * batch_size]).max()) / batch_size
              for i in range(n_batches)]
    return sum(shares) / len(shares)


def agreement_by_chance(labels: torch.Tensor) -> float:
    """The accuracy a guess independent of the inputs reaches with the same class shares (sum p^2)."""
    shares = torch.bincount(labels.reshape(-1).cpu()).double() / labels.numel()
    return float((shares ** 2).sum())


@torch.no_grad()
def knn_accuracy(x: torch.Tensor, labels: torch.Tensor) -> float:
    """Leave-one-out 1-nearest-neighbour accuracy of ``labels`` from the rows of ``x``."""
    x = x.reshape(x.shape[0], -1).float()
    x = (x - x.mean(0)) / (x.std(0) + 1e-6)
    d = torch.cdist(x, x)
    d.fill_diagonal_(float("inf"))
    return float((labels[d.argmin(1)] == labels).float().mean())


@torch.no_grad()
def linear_accuracy(x: torch.Tensor, labels: torch.Tensor, n_classes: int, heldout: bool = False) -> float | None:
    """Accuracy of a ridge regression of one-hot labels on the raw inputs (with a bias): on the
    samples it was fitted on, or (``heldout``) fitted on the even rows and tested on the odd ones.

    Solved in its dual form (an N x N system for N <= 512 samples), so its cost does not grow with
    the number of input features (a CIFAR image has 3,072)."""
    x = x.reshape(x.shape[0], -1).float().cpu()
    labels = labels.cpu()
    if heldout and x.shape[0] < 20:
        return None
    fit, test = (slice(0, None, 2), slice(1, None, 2)) if heldout else (slice(None), slice(None))
    center = x[fit].mean(0)
    a, b = x[fit] - center, x[test] - center
    targets = torch.nn.functional.one_hot(labels[fit], max(n_classes, 2)).double()
    targets = targets - targets.mean(0)  # (the bias: centred targets on centred inputs)
    gram = (a @ a.T).double()
    ridge = (0.1 if heldout else 1e-3) * float(gram.diagonal().mean()) + 1e-12
    alpha = torch.linalg.solve(gram + ridge * torch.eye(gram.shape[0], dtype=gram.dtype), targets)
    predicted = ((b @ a.T).double() @ alpha).argmax(1)
    return float((predicted == labels[test]).float().mean())


def distribution_shift(train: torch.Tensor, validation: torch.Tensor) -> tuple[float, float]:
    """``(shift, scale)`` of the validation inputs against the training inputs, all features pooled: the
    difference of their means in training standard deviations, and the ratio of their standard deviations.

    Args:
        train: ``(N, F)`` training inputs; validation: ``(M, F)`` validation inputs.
    """
    t, v = train.double(), validation.double()
    t_std = float(t.std()) or 1e-12
    return float((v.mean() - t.mean()) / t_std), float(v.std()) / t_std
