"""Acceptance 1: the seed's worked numbers, plus the activation and losses at their edges."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from neural import Network, Neuron, deriv_sigmoid, log_loss, mse_loss, sigmoid


def test_neuron_example_gives_the_seeds_output() -> None:
    assert Neuron(np.array([0, 1]), 4).feedforward(np.array([2, 3])) == 0.9990889488055994


def test_network_with_shared_weights_gives_the_seeds_output() -> None:
    network = Network((2, 2, 1), weights=[[[0, 1], [0, 1]], [[0, 1]]], biases=[[0, 0], [0]])
    output = network.feedforward(np.array([2, 3]))
    assert output.shape == (1,)
    assert output[0] == pytest.approx(0.7216325609518421, abs=1e-15)


def test_mse_example_gives_the_seeds_loss() -> None:
    assert mse_loss(np.array([1, 0, 0, 1]), np.array([0, 0, 0, 0])) == 0.5


def test_alice_partial_derivative_of_w1_matches_the_seed() -> None:
    network = Network((2, 2, 1), weights=[[[1, 1], [1, 1]], [[1, 1]]], biases=[[0, 0], [0]])
    weight_grads, _ = network.backprop(np.array([-2, -1]), 1)
    d_w1 = weight_grads[0][0, 0]
    # The seed's chain rule written out by hand: dL/dypred * dypred/dh1 * dh1/dw1.
    h = sigmoid(-3.0)
    o = sigmoid(2 * h)
    by_hand = -2 * (1 - o) * (1 * deriv_sigmoid(2 * h)) * (-2 * deriv_sigmoid(-3.0))
    assert f"{d_w1:.4f}" == "0.0215" and str(d_w1).startswith("0.02146")
    assert d_w1 == pytest.approx(by_hand, rel=1e-12)


def test_sigmoid_is_finite_and_silent_up_to_1e4() -> None:
    x = np.array([-1e4, -800.0, -30.0, 0.0, 30.0, 800.0, 1e4])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        values = sigmoid(x)
        derivatives = deriv_sigmoid(x)
        scalar = sigmoid(-1e4)
    assert np.isfinite(values).all() and np.isfinite(derivatives).all()
    assert values[0] == 0.0 and values[-1] == 1.0 and values[3] == 0.5 and scalar == 0.0
    assert (np.diff(values) >= 0).all()
    assert derivatives[0] == 0.0 and derivatives[3] == 0.25


def test_log_loss_values_and_clipping() -> None:
    assert log_loss([1.0, 0.0], [0.5, 0.5]) == pytest.approx(np.log(2))
    assert log_loss([1.0, 0.0], [0.9, 0.2]) == pytest.approx(-(np.log(0.9) + np.log(0.8)) / 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        worst = log_loss([1.0, 0.0], [0.0, 1.0])
    assert np.isfinite(worst) and worst == pytest.approx(-np.log(1e-15), rel=1e-4)


def test_losses_accept_a_column_against_a_vector_but_not_broadcasting() -> None:
    y_true = np.array([1.0, 0.0, 1.0])
    y_pred = np.array([[0.5], [0.5], [1.0]])
    assert mse_loss(y_true, y_pred) == pytest.approx(0.5 / 3)
    with pytest.raises(ValueError, match="shape"):
        mse_loss(np.array([1.0, 0.0]), np.array([0.1, 0.2, 0.3]))
    with pytest.raises(ValueError, match="shape"):
        log_loss(np.ones((2, 2)), np.ones(4) / 2)
