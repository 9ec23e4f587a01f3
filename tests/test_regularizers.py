"""Regularizers: TFlearn's L1 / L2 values, gradients and lookup."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from deepscope import regularizers
from deepscope._registry import UnknownNameError

REFERENCES = {"L1": lambda w, wd: wd * np.abs(w).sum(), "L2": lambda w, wd: wd * (w ** 2).sum() / 2}


@pytest.mark.parametrize("name", regularizers.REGISTRY.names())
def test_every_registered_regularizer(name):
    fn = regularizers.get(name)
    w = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    value = fn(w, 0.01)
    assert value.ndim == 0
    np.testing.assert_allclose(value.item(), REFERENCES[name](w.detach().numpy(), 0.01), rtol=1e-12)
    assert fn(w).item() == pytest.approx(REFERENCES[name](w.detach().numpy(), 0.001))  # TFlearn's default wd
    assert torch.autograd.gradcheck(lambda t: fn(t, 0.3), (w,))


def test_l2_is_tf_l2_loss_times_wd():
    w = torch.tensor([[1.0, 2.0], [3.0, -4.0]])
    assert regularizers.L2(w, wd=0.1).item() == pytest.approx(0.1 * 30 / 2)
    assert regularizers.L1(w, wd=0.1).item() == pytest.approx(0.1 * 10)


def test_lookup():
    assert regularizers.get("l2") is regularizers.L2
    assert regularizers.get(None) is None
    custom = lambda w, wd: wd * w.abs().max()  # noqa: E731
    assert regularizers.get(custom) is custom
    with pytest.raises(UnknownNameError, match="Valid names: L1, L2"):
        regularizers.get("L3", where="fully_connected 'fc' regularizer")
