"""Big inputs go through in slices (bounded memory) with the same results as in one piece."""

from __future__ import annotations

import numpy as np
import pytest

import neural.network
import neural.training
from neural import Network, train_sgd


@pytest.mark.parametrize("loss", ["mse", "log_loss"])
def test_sliced_training_loss_and_feedforward_match_one_piece(
    loss: str, thousand_people, monkeypatch: pytest.MonkeyPatch
) -> None:
    X, y = thousand_people  # 1,000 rows: above the kernel's own loss, so numpy computes it
    network = Network((2, 3, 1), rng=np.random.default_rng(4))
    whole = network.copy()
    settings = dict(epochs=3, learning_rate=0.1, loss=loss)
    one_piece = train_sgd(whole, X, y, rng=np.random.default_rng(1), **settings)
    expected = whole.feedforward(X)

    monkeypatch.setattr(neural.training, "FEEDFORWARD_CHUNK", 128)
    monkeypatch.setattr(neural.network, "FEEDFORWARD_CHUNK", 96)
    sliced = train_sgd(network, X, y, rng=np.random.default_rng(1), **settings)

    np.testing.assert_allclose(sliced.loss_history, one_piece.loss_history, rtol=1e-12)
    for a, b in zip(network.weights + network.biases, whole.weights + whole.biases, strict=True):
        assert np.array_equal(a, b)  # the loss is only observed: training is unchanged
    np.testing.assert_allclose(network.feedforward(X), expected, rtol=0, atol=1e-15)
    assert network.feedforward(X[0]).shape == (1,)


@pytest.mark.parametrize("layer_sizes", [(2, 2, 1), (2, 8, 4, 1)])
def test_a_sample_gets_the_same_bits_in_any_batch(layer_sizes: tuple[int, ...]) -> None:
    """A person's probability does not depend on who else is in the request: every batch size
    and position gives the very same float (BLAS's matrix product would not: its kernels
    change with the number of columns)."""
    rng = np.random.default_rng(11)
    X = rng.normal(size=(64, 2)) * 3
    for _ in range(50):
        network = Network(layer_sizes, rng=rng)
        whole = network.feedforward(X)
        for start, size in [(0, 1), (0, 3), (1, 4), (5, 5), (2, 9), (7, 17), (0, 63)]:
            part = network.feedforward(X[start : start + size])
            assert np.array_equal(part, whole[start : start + size])
        assert np.array_equal(network.feedforward(X[3]), whole[3])


def test_one_sample_alone_matches_its_batch_at_the_sigmoids_extremes() -> None:
    """The one-sample path saturates as the columns do: e^-z overflowing to inf gives 0.0, a
    huge positive sum 1.0, with no warning (warnings are errors in the tests)."""
    network = Network((2, 3, 1), rng=np.random.default_rng(5))
    network.weights[0] *= 400.0
    network.weights[1] *= 800.0
    X = np.array([[3.0, -2.0], [-3.0, 2.0], [0.5, 0.25], [1e-3, -1e-3]])
    whole = network.feedforward(X)
    assert {0.0, 1.0} <= set(network.layer_values(X)[0][1].ravel().tolist())  # both extremes hit
    for row in range(len(X)):
        assert np.array_equal(network.feedforward(X[row : row + 1]), whole[row : row + 1])
        assert np.array_equal(network.feedforward(X[row]), whole[row])
