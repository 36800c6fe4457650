"""Input checks shared by the network and the training loop: clear ValueErrors instead of NaNs."""

from __future__ import annotations

import numbers

import numpy as np
from numpy.typing import ArrayLike


def finite_array(value: ArrayLike, name: str) -> np.ndarray:
    """`value` as a float64 array, or ValueError if it is not numeric or holds NaN or infinity."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric: {exc}") from exc
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return array


def samples(value: ArrayLike, n_in: int, name: str = "X") -> np.ndarray:
    """A (n, n_in) C-contiguous float64 array of at least one finite row."""
    X = finite_array(value, name)
    if X.ndim != 2 or X.shape[1] != n_in:
        raise ValueError(f"{name} must have shape (n_samples, {n_in}), got {X.shape}")
    if X.shape[0] == 0:
        raise ValueError(f"{name} has no rows")
    return np.ascontiguousarray(X)


def targets(value: ArrayLike, n: int, n_out: int, name: str = "y") -> np.ndarray:
    """Targets as a (n, n_out) C-contiguous float64 array; (n,) is accepted when n_out is 1."""
    y = finite_array(value, name)
    if y.ndim == 1 and n_out == 1:
        y = y.reshape(-1, 1)
    if y.shape != (n, n_out):
        expected = f"({n},) or ({n}, 1)" if n_out == 1 else f"({n}, {n_out})"
        raise ValueError(f"{name} must have shape {expected}, got {y.shape}")
    return np.ascontiguousarray(y)


def integer(value: object, name: str, minimum: int) -> int:
    """`value` as an int >= minimum (bools and floats are refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def positive_float(value: object, name: str) -> float:
    """`value` as a finite float > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number, got {value!r}")
    number = float(value)
    if not np.isfinite(number) or number <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return number


def non_negative_float(value: object, name: str) -> float:
    """`value` as a finite float >= 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number, got {value!r}")
    number = float(value)
    if not np.isfinite(number) or number < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return number


def layer_sizes(value: object) -> tuple[int, ...]:
    """Layer sizes as a tuple of at least two positive ints (inputs, ..., outputs)."""
    try:
        sizes = tuple(value)  # type: ignore[arg-type]
    except TypeError as exc:
        raise ValueError(f"layer_sizes must be a sequence of integers, got {value!r}") from exc
    if len(sizes) < 2:
        raise ValueError(f"layer_sizes needs at least an input and an output size, got {sizes}")
    return tuple(integer(size, "each layer size", 1) for size in sizes)
