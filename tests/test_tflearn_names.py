"""TFlearn's top-level names: activations and objectives, a session argument, and a clear error
(with the alternative) for a TFlearn name deepscope does not provide."""
from __future__ import annotations

import pytest
import torch

import deepscope as tflearn


def test_top_level_activations_and_objectives():
    x = torch.tensor([-1.0, 0.0, 2.0])
    assert torch.equal(tflearn.relu(x), torch.tensor([0.0, 0.0, 2.0]))
    assert torch.allclose(tflearn.tanh(x), torch.tanh(x)) and torch.equal(tflearn.linear(x), x)
    assert tflearn.objectives.mean_square(torch.ones(4), torch.zeros(4)).item() == pytest.approx(1.0)
    assert tflearn.mean_square is tflearn.objectives.mean_square


def test_a_session_is_accepted_and_given_back():
    net = tflearn.regression(tflearn.fully_connected(tflearn.input_data([None, 2]), 1))
    assert tflearn.DNN(net, session="tf-session").session == "tf-session"
    session = tflearn.DNN(net).session  # TFlearn programs: `with model.session.as_default(): ...`
    with session.as_default():
        W = tflearn.get_layer_variables_by_name(net.parents[0].name)[0]
        assert session.run(W).shape == (1, 2)


def test_a_name_deepscope_lacks_says_so_and_where_the_list_is():
    with pytest.raises(AttributeError, match="not one of the TFlearn names deepscope provides"):
        tflearn.no_such_layer  # noqa: B018
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        tflearn.nope  # noqa: B018
