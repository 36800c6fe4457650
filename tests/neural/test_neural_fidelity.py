"""Acceptance 3 and the compiled path: the same weights as the seed's own loop, and as numpy's.

`SeedNetwork.train` is the seed's `OurNeuralNetwork.train` copied verbatim (only its class name
differs); the reference starts from our network's initial weights.
"""

from __future__ import annotations

import numpy as np
import pytest

from neural import Network, train_sgd


def sigmoid(x):
    # Sigmoid activation function: f(x) = 1 / (1 + e^(-x))
    return 1 / (1 + np.exp(-x))


def deriv_sigmoid(x):
    # Derivative of sigmoid: f'(x) = f(x) * (1 - f(x))
    fx = sigmoid(x)
    return fx * (1 - fx)


def mse_loss(y_true, y_pred):
    # y_true and y_pred are numpy arrays of the same length.
    return ((y_true - y_pred) ** 2).mean()


class SeedNetwork:
    """The seed's 2-2-1 network with its training loop, verbatim; weights come from `from_ours`."""

    @classmethod
    def from_ours(cls, network: Network) -> SeedNetwork:
        """w1..w6, b1..b3 from our matrices (the mapping in Network's docstring)."""
        seed = cls()
        (seed.w1, seed.w2), (seed.w3, seed.w4) = network.weights[0].tolist()
        ((seed.w5, seed.w6),) = network.weights[1].tolist()
        seed.b1, seed.b2 = network.biases[0].tolist()
        (seed.b3,) = network.biases[1].tolist()
        return seed

    def as_ours(self) -> list[np.ndarray]:
        """Our parameters in the order weights[0], biases[0], weights[1], biases[1]."""
        return [
            np.array([[self.w1, self.w2], [self.w3, self.w4]]),
            np.array([self.b1, self.b2]),
            np.array([[self.w5, self.w6]]),
            np.array([self.b3]),
        ]

    def feedforward(self, x):
        # x is a numpy array with 2 elements.
        h1 = sigmoid(self.w1 * x[0] + self.w2 * x[1] + self.b1)
        h2 = sigmoid(self.w3 * x[0] + self.w4 * x[1] + self.b2)
        o1 = sigmoid(self.w5 * h1 + self.w6 * h2 + self.b3)
        return o1

    def train(self, data, all_y_trues):
        """
        - data is a (n x 2) numpy array, n = # of samples in the dataset.
        - all_y_trues is a numpy array with n elements.
          Elements in all_y_trues correspond to those in data.
        """
        learn_rate = 0.1
        epochs = 1000  # number of times to loop through the entire dataset

        for epoch in range(epochs):
            for x, y_true in zip(data, all_y_trues):  # noqa: B905
                # --- Do a feedforward (we'll need these values later)
                sum_h1 = self.w1 * x[0] + self.w2 * x[1] + self.b1
                h1 = sigmoid(sum_h1)

                sum_h2 = self.w3 * x[0] + self.w4 * x[1] + self.b2
                h2 = sigmoid(sum_h2)

                sum_o1 = self.w5 * h1 + self.w6 * h2 + self.b3
                o1 = sigmoid(sum_o1)
                y_pred = o1

                # --- Calculate partial derivatives.
                # --- Naming: d_L_d_w1 represents "partial L / partial w1"
                d_L_d_ypred = -2 * (y_true - y_pred)

                # Neuron o1
                d_ypred_d_w5 = h1 * deriv_sigmoid(sum_o1)
                d_ypred_d_w6 = h2 * deriv_sigmoid(sum_o1)
                d_ypred_d_b3 = deriv_sigmoid(sum_o1)

                d_ypred_d_h1 = self.w5 * deriv_sigmoid(sum_o1)
                d_ypred_d_h2 = self.w6 * deriv_sigmoid(sum_o1)

                # Neuron h1
                d_h1_d_w1 = x[0] * deriv_sigmoid(sum_h1)
                d_h1_d_w2 = x[1] * deriv_sigmoid(sum_h1)
                d_h1_d_b1 = deriv_sigmoid(sum_h1)

                # Neuron h2
                d_h2_d_w3 = x[0] * deriv_sigmoid(sum_h2)
                d_h2_d_w4 = x[1] * deriv_sigmoid(sum_h2)
                d_h2_d_b2 = deriv_sigmoid(sum_h2)

                # --- Update weights and biases
                # Neuron h1
                self.w1 -= learn_rate * d_L_d_ypred * d_ypred_d_h1 * d_h1_d_w1
                self.w2 -= learn_rate * d_L_d_ypred * d_ypred_d_h1 * d_h1_d_w2
                self.b1 -= learn_rate * d_L_d_ypred * d_ypred_d_h1 * d_h1_d_b1

                # Neuron h2
                self.w3 -= learn_rate * d_L_d_ypred * d_ypred_d_h2 * d_h2_d_w3
                self.w4 -= learn_rate * d_L_d_ypred * d_ypred_d_h2 * d_h2_d_w4
                self.b2 -= learn_rate * d_L_d_ypred * d_ypred_d_h2 * d_h2_d_b2

                # Neuron o1
                self.w5 -= learn_rate * d_L_d_ypred * d_ypred_d_w5
                self.w6 -= learn_rate * d_L_d_ypred * d_ypred_d_w6
                self.b3 -= learn_rate * d_L_d_ypred * d_ypred_d_b3

            # --- Calculate total loss at the end of each epoch
            if epoch % 10 == 0:
                y_preds = np.apply_along_axis(self.feedforward, 1, data)
                loss = mse_loss(all_y_trues, y_preds)
                print("Epoch %d loss: %.3f" % (epoch, loss))  # noqa: UP031


def parameters(network: Network) -> list[np.ndarray]:
    """weights[0], biases[0], weights[1], biases[1], ... as one list."""
    return [p for pair in zip(network.weights, network.biases, strict=True) for p in pair]


def assert_same_parameters(ours: list[np.ndarray], reference: list[np.ndarray], tol: float) -> None:
    for mine, theirs in zip(ours, reference, strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=0, atol=tol)


@pytest.mark.parametrize("data", ["four_people", "thousand_people"])
def test_per_sample_sgd_ends_with_the_seed_loops_weights(data: str, request) -> None:
    X, y = request.getfixturevalue(data)
    network = Network((2, 2, 1), rng=np.random.default_rng(7))
    seed = SeedNetwork.from_ours(network)
    seed.train(X, y)
    train_sgd(network, X, y, batch_size=1, shuffle=False, epochs=1000, learning_rate=0.1)
    moved = max(
        np.abs(a - b).max() for a, b in zip(parameters(network), seed.as_ours(), strict=True)
    )
    assert moved < 1e-9
    start = SeedNetwork.from_ours(Network((2, 2, 1), rng=np.random.default_rng(7))).as_ours()
    assert max(np.abs(a - b).max() for a, b in zip(start, seed.as_ours(), strict=True)) > 0.1


def test_numpy_reference_path_also_follows_the_seed(four_people) -> None:
    X, y = four_people
    network = Network((2, 2, 1), rng=np.random.default_rng(3))
    seed = SeedNetwork.from_ours(network)
    seed.train(X, y)
    train_sgd(network, X, y, epochs=1000, learning_rate=0.1, shuffle=False, backend="numpy")
    assert_same_parameters(parameters(network), seed.as_ours(), 1e-9)


CASES = [
    ((2, 2, 1), 1),
    ((2, 2, 1), 16),
    ((2, 4, 3, 1), 1),
    ((2, 4, 3, 1), 16),
    ((2, 8, 1), 1),
    ((2, 3, 2), 1),
    ((2, 3, 2), 16),
]


@pytest.mark.parametrize("loss", ["mse", "log_loss"])
@pytest.mark.parametrize(("layer_sizes", "batch_size"), CASES)
def test_compiled_path_equals_the_numpy_reference(
    layer_sizes: tuple[int, ...], batch_size: int, loss: str, thousand_people
) -> None:
    X, y = thousand_people
    X, y = X[:400], y[:400]
    Y = y if layer_sizes[-1] == 1 else np.column_stack([y, 1 - y])
    fast = Network(layer_sizes, rng=np.random.default_rng(11))
    reference = fast.copy()
    settings = dict(epochs=15, learning_rate=0.3, batch_size=batch_size, loss=loss)
    fast_state = train_sgd(fast, X, Y, rng=np.random.default_rng(5), backend="numba", **settings)
    ref_state = train_sgd(
        reference, X, Y, rng=np.random.default_rng(5), backend="numpy", **settings
    )
    assert_same_parameters(parameters(fast), parameters(reference), 1e-9)
    np.testing.assert_allclose(fast_state.loss_history, ref_state.loss_history, rtol=1e-9)
    assert fast_state.rng_state == ref_state.rng_state
    assert ref_state.loss_history[-1] < ref_state.loss_history[0]
