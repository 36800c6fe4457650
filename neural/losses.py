"""Loss functions: the seed's mean squared error and binary cross-entropy beside it.

Both average over every sample and every output, so a network with one output gives exactly the
seed's numbers. `output_delta` gives dL/dz of the output layer, where backprop starts. `LOSSES`
is the network's table of them by name (the names a job's `loss` hyperparameter may take, which
`foundation.hyperparameters.LOSSES` lists for the API; a test keeps the two the same).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

#: Predictions are clipped to [EPS, 1 - EPS] in `log_loss` so that log(0) never happens.
EPS = 1e-15


def _paired(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Both as float arrays of one shape: (n,) against (n, 1) is allowed, broadcasting is not."""
    t = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    if t.shape != p.shape:
        if t.size != p.size or np.squeeze(t).shape != np.squeeze(p).shape:
            raise ValueError(f"y_true has shape {t.shape} but y_pred has shape {p.shape}")
        t = t.reshape(p.shape)
    if t.size == 0:
        raise ValueError("a loss needs at least one value")
    return t, p


def mse_loss(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Mean squared error, ((y_true - y_pred) ** 2).mean(), as in the seed."""
    t, p = _paired(y_true, y_pred)
    return float(_squared_errors(t, p).mean())


def log_loss(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Binary cross-entropy -mean(y log p + (1 - y) log(1 - p)), p clipped to [EPS, 1 - EPS]."""
    t, p = _paired(y_true, y_pred)
    return float(-_log_likelihoods(t, p).mean())


def _squared_errors(t: np.ndarray, p: np.ndarray) -> np.ndarray:
    return (t - p) ** 2


def _log_likelihoods(t: np.ndarray, p: np.ndarray) -> np.ndarray:
    p = np.clip(p, EPS, 1.0 - EPS)
    return t * np.log(p) + (1.0 - t) * np.log1p(-p)


def _negative_log_likelihoods(t: np.ndarray, p: np.ndarray) -> np.ndarray:
    return -_log_likelihoods(t, p)


#: The losses by name: each one's value (the mean of its terms) for y_true, y_pred.
LOSSES: dict[str, Callable[[ArrayLike, ArrayLike], float]] = {
    "mse": mse_loss,
    "log_loss": log_loss,
}
#: Each loss's terms, one per sample and output, for two arrays of one shape.
_TERMS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "mse": _squared_errors,
    "log_loss": _negative_log_likelihoods,
}


def loss_sum(loss: str, y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """The loss named `loss` times its number of terms, for two arrays of one shape: a loss over
    many rows is the sum of these over slices of them, divided by the number of terms (for one
    slice, exactly `LOSSES[loss]`)."""
    check_loss_name(loss)
    return float(_TERMS[loss](y_true, y_pred).sum())


def check_loss_name(loss: str) -> None:
    """Raise ValueError unless `loss` names one of LOSSES."""
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; expected one of {', '.join(LOSSES)}")


def output_delta(loss: str, y_true: np.ndarray, y_pred: np.ndarray, n_out: int) -> np.ndarray:
    """dL/dz for the output layer's pre-activations z, for arrays of outputs (any one layout).

    For MSE it is the seed's d_L_d_ypred * deriv_sigmoid(sum_o1) = -2 (y - p) * p (1 - p); for the
    cross-entropy the sigmoid's derivative cancels and it is p - y. Both are divided by the number
    of outputs `n_out` (given, as the losses average over outputs too), as a product with 1 / n_out
    in the same order as the compiled kernel.
    """
    inv_out = 1.0 / n_out
    if loss == "mse":
        return (-2.0 * inv_out * (y_true - y_pred)) * (y_pred * (1.0 - y_pred))
    return (y_pred - y_true) * inv_out
