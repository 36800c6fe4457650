"""Acceptance 4: backprop equals central finite differences, for several shapes and both losses."""

from __future__ import annotations

import numpy as np
import pytest

from neural import Network
from neural.losses import LOSSES


def sample_loss(network: Network, x: np.ndarray, y: np.ndarray, loss: str) -> float:
    """The loss of one sample, computed from the forward pass alone (independent of backprop)."""
    return LOSSES[loss](y, network.feedforward(x))


def finite_differences(network: Network, x: np.ndarray, y: np.ndarray, loss: str, h: float = 1e-5):
    """Central differences (L(p + h) - L(p - h)) / 2h for every weight and bias, shaped alike."""
    grads = []
    for array in network.weights + network.biases:
        grad = np.empty_like(array)
        for index in np.ndindex(array.shape):
            saved = array[index]
            array[index] = saved + h
            up = sample_loss(network, x, y, loss)
            array[index] = saved - h
            down = sample_loss(network, x, y, loss)
            array[index] = saved
            grad[index] = (up - down) / (2 * h)
        grads.append(grad)
    n = len(network.weights)
    return grads[:n], grads[n:]


@pytest.mark.parametrize("loss", list(LOSSES))
@pytest.mark.parametrize("layer_sizes", [(2, 2, 1), (2, 3, 1), (2, 4, 3, 1), (2, 8, 1), (2, 3, 2)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_backprop_matches_finite_differences(
    layer_sizes: tuple[int, ...], loss: str, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    network = Network(layer_sizes, rng=rng)
    x = rng.standard_normal(layer_sizes[0])
    y = rng.integers(0, 2, size=layer_sizes[-1]).astype(float)
    weight_grads, bias_grads = network.backprop(x, y, loss=loss)
    fd_weights, fd_biases = finite_differences(network, x, y, loss)

    analytic = np.concatenate([g.ravel() for g in weight_grads + bias_grads])
    numeric = np.concatenate([g.ravel() for g in fd_weights + fd_biases])
    for got, shaped in zip(
        weight_grads + bias_grads, network.weights + network.biases, strict=True
    ):
        assert got.shape == shaped.shape
    relative = np.linalg.norm(analytic - numeric) / np.linalg.norm(analytic + numeric)
    assert relative < 1e-6
    # Each component too, relative to its size, with a floor far below the gradients' scale.
    per_component = np.abs(analytic - numeric) / np.maximum(
        np.abs(analytic) + np.abs(numeric), 1e-6
    )
    assert per_component.max() < 1e-6
