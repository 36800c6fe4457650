"""The seed's activation: the logistic sigmoid and its derivative, vectorised and overflow-safe."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def sigmoid(x: ArrayLike) -> np.ndarray | np.float64:
    """Return 1 / (1 + e^-x) elementwise, exactly the seed's formula.

    For x below about -709 `e^-x` overflows to inf and the result is 0.0, which is the correctly
    rounded value; the overflow is expected there, so it is silenced rather than warned about.
    """
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


def deriv_sigmoid(x: ArrayLike) -> np.ndarray | np.float64:
    """Return the derivative of `sigmoid` at x: f(x) * (1 - f(x)), as in the seed."""
    fx = sigmoid(x)
    return fx * (1.0 - fx)


def sigmoid_inplace(z: np.ndarray) -> np.ndarray:
    """Overwrite the float64 array z with sigmoid(z) (same bits as `sigmoid`) and return it."""
    with np.errstate(over="ignore"):
        np.negative(z, out=z)
        np.exp(z, out=z)
        z += 1.0
        return np.divide(1.0, z, out=z)
