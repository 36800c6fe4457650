"""The seed's single neuron: weighted sum plus bias, through the sigmoid."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from neural.activations import sigmoid


class Neuron:
    """A neuron with `weights` of shape (n_in,) and a scalar `bias`."""

    def __init__(self, weights: ArrayLike, bias: float) -> None:
        self.weights = np.asarray(weights, dtype=np.float64)
        if self.weights.ndim != 1:
            raise ValueError(f"weights must be one-dimensional, got shape {self.weights.shape}")
        self.bias = float(bias)

    def feedforward(self, inputs: ArrayLike) -> float:
        """sigmoid(weights . inputs + bias) for one input of shape (n_in,)."""
        x = np.asarray(inputs, dtype=np.float64)
        if x.shape != self.weights.shape:
            raise ValueError(f"expected inputs of shape {self.weights.shape}, got {x.shape}")
        return float(sigmoid(np.dot(self.weights, x) + self.bias))
