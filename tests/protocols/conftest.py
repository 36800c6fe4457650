"""A hand-made 2-2-1 snapshot whose every value the tests recompute with the seed's formulas."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest

W1, W2, W3, W4, W5, W6 = 0.2, -0.4, -0.3, 0.5, 1.5, -2.0
B1, B2, B3 = 0.1, -0.2, 0.3
SNAPSHOT = {
    "layer_sizes": [2, 2, 1],
    "activation": "sigmoid",
    "loss": "mse",
    "weights": [[[W1, W2], [W3, W4]], [[W5, W6]]],
    "biases": [[B1, B2], [B3]],
    "normalization": {"mean": [135.0, 66.0], "scale": [1.0, 1.0]},
    "training": {},
}
#: Emily and Frank, the seed's two new people.
EMILY, FRANK = [128, 63], [155, 68]


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def seed_feedforward(weight: float, height: float) -> dict:
    """The seed's NeuralNetwork.feedforward on this snapshot, every intermediate kept."""
    x = [weight - 135, height - 66]
    sum_h1 = W1 * x[0] + W2 * x[1] + B1
    sum_h2 = W3 * x[0] + W4 * x[1] + B2
    h1, h2 = sigmoid(sum_h1), sigmoid(sum_h2)
    sum_o1 = W5 * h1 + W6 * h2 + B3
    return {
        "input": [weight, height],
        "normalized": x,
        "layers": [{"z": [sum_h1, sum_h2], "a": [h1, h2]}, {"z": [sum_o1], "a": [sigmoid(sum_o1)]}],
    }


def probability_female(weight: float, height: float) -> float:
    """o1 of the seed's feedforward on this snapshot."""
    return seed_feedforward(weight, height)["layers"][1]["a"][0]


@pytest.fixture
def model_id(stack) -> str:
    """The snapshot, saved in the stack's store but not promoted."""
    return stack.store.models.save(SNAPSHOT)["id"]


@pytest.fixture
def latest_model_id(stack, model_id: str) -> Iterator[str]:
    """The snapshot as the latest model; the previous latest is restored afterwards."""
    previous = stack.store.models.latest_id()
    stack.store.models.promote(model_id)
    stack.wait_until_served(model_id)
    yield model_id
    if previous is not None:
        stack.store.models.promote(previous)
        stack.wait_until_served(previous)
