"""Stochastic gradient descent: the seed's per-sample loop, mini-batches, resumable to the bit."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from neural import _compiled
from neural import _validation as check
from neural.early_stopping import EarlyStopping
from neural.losses import check_loss_name, loss_sum
from neural.network import FEEDFORWARD_CHUNK, Network, forward_columns
from neural.state import TrainingState

BACKENDS = ("numba", "numpy")

#: on_epoch(epochs_done, loss) -> True to stop after this epoch.
EpochCallback = Callable[[int, float], object]


def default_backend() -> str:
    """Return "numba" when numba is installed, else "numpy" (the reference path)."""
    return "numba" if _compiled.NUMBA_AVAILABLE else "numpy"


def train_sgd(
    network: Network,
    X: ArrayLike,
    y: ArrayLike,
    *,
    epochs: int,
    learning_rate: float,
    batch_size: int = 1,
    shuffle: bool = True,
    loss: str = "mse",
    rng: np.random.Generator | None = None,
    on_epoch: EpochCallback | None = None,
    state: TrainingState | Mapping[str, Any] | None = None,
    backend: str | None = None,
    early_stopping: EarlyStopping | None = None,
    validation: tuple[ArrayLike, ArrayLike] | None = None,
) -> TrainingState:
    """Train `network` in place by SGD until `epochs` epochs in total are done; return the state.

    X : ndarray of shape (n_samples, n_in); y : shape (n_samples,) or (n_samples, n_out).
    `batch_size=1` is the seed's per-sample SGD (update after every sample); larger sizes average
    the gradients of each batch (the last one may be smaller). With `shuffle` the rows are visited
    in a fresh `rng.permutation` each epoch, otherwise in order.

    After each epoch the network's arrays hold the new parameters and `on_epoch(epochs_done, loss)`
    is called with the loss over the whole training set; a True return stops training there.
    `state` (a `TrainingState` or its `to_dict()`) continues a run: its weights replace the
    network's, its RNG state is restored (into `rng` if given, so a caller holding `rng` can
    checkpoint from `on_epoch` with `TrainingState.capture`) and its loss history is continued.
    `backend` is "numba" (compiled, the default when numba is installed) or "numpy" (the reference).

    With `early_stopping` (an `EarlyStopping`), the loss on the `validation` rows (X_val, y_val)
    is taken after each epoch, before `on_epoch`, and training stops once it has not improved for
    `early_stopping.patience` epochs. When training ends by itself (epochs done, or stopped
    early) the network gets the best epoch's weights back; when `on_epoch` stops it, the
    network keeps the last epoch's, so the caller can checkpoint them with the early-stopping
    state (`to_dict()`) and continue later with both.
    """
    check_loss_name(loss)
    epochs = check.integer(epochs, "epochs", 0)
    learning_rate = check.positive_float(learning_rate, "learning_rate")
    batch_size = check.integer(batch_size, "batch_size", 1)
    backend = default_backend() if backend is None else backend
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}")
    if backend == "numba" and not _compiled.NUMBA_AVAILABLE:
        raise ValueError("the numba backend needs numba, which is not installed")
    X = check.samples(X, network.n_inputs)
    Y = check.targets(y, X.shape[0], network.n_outputs)
    if loss == "log_loss" and ((Y < 0) | (Y > 1)).any():
        raise ValueError("log_loss needs targets between 0 and 1")

    rng, done, history = _start(network, epochs, rng, state)
    training_loss = _loss_evaluator(network, X, Y, loss)
    validation_loss = _validation_evaluator(network, loss, early_stopping, validation)
    if backend == "numba":
        compiled = _compiled.CompiledEpochs(
            network, X, Y, batch_size, learning_rate, loss == "log_loss", training_loss
        )
        run_epoch, finish = compiled.run, compiled.close
    else:
        run_epoch = _numpy_epochs(network, X, Y, batch_size, learning_rate, loss, training_loss)
        finish = None

    n = X.shape[0]
    in_order = np.arange(n, dtype=np.int64)
    stopped_by_caller = False
    try:
        while done < epochs and not (early_stopping is not None and early_stopping.stopped):
            current = run_epoch(rng.permutation(n) if shuffle else in_order)
            done += 1
            if not math.isfinite(current):
                raise ValueError(f"training diverged at epoch {done}: the loss is {current}")
            history.append(current)
            if early_stopping is not None and validation_loss is not None:
                early_stopping.update(done, validation_loss(), network)
            if on_epoch is not None and on_epoch(done, current):
                stopped_by_caller = True
                break
    finally:
        if finish is not None:
            finish()
    if early_stopping is not None and not stopped_by_caller:
        early_stopping.restore(network)
    return TrainingState.capture(network, rng, done, history)


def warm_up(hidden_layers: tuple[int, ...] = (1,)) -> bool:
    """Compile (or load from numba's cache) the kernel, so a worker pays that once at start.

    numba specializes the kernel per network depth; `hidden_layers` lists the numbers of hidden
    layers to prepare (the service's default network has one). Each is prepared by a one-epoch
    `train_sgd` on two rows, so the whole training path has run once. Returns True when the
    compiled path is available, False when numba is not installed.
    """
    if not _compiled.NUMBA_AVAILABLE:
        return False
    X = np.array([[0.5, -0.5], [-0.5, 0.5]])
    y = np.array([1.0, 0.0])
    for depth in hidden_layers:
        network = Network((2,) + (2,) * depth + (1,), rng=np.random.default_rng(0))
        train_sgd(network, X, y, epochs=1, learning_rate=0.1, rng=np.random.default_rng(0))
    return True


def _start(
    network: Network,
    epochs: int,
    rng: np.random.Generator | None,
    state: TrainingState | Mapping[str, Any] | None,
) -> tuple[np.random.Generator, int, list[float]]:
    """The generator, epochs done and loss history to start from, loading `state` if given."""
    if state is None:
        return (rng if rng is not None else np.random.default_rng()), 0, []
    if not isinstance(state, TrainingState):
        state = TrainingState.from_dict(state)
    if tuple(state.layer_sizes) != network.layer_sizes:
        raise ValueError(
            f"the state is for layer sizes {tuple(state.layer_sizes)}, "
            f"the network has {network.layer_sizes}"
        )
    if epochs < state.epochs_done:
        raise ValueError(
            f"epochs ({epochs}) is below the state's epochs done ({state.epochs_done})"
        )
    restored = Network(state.layer_sizes, weights=state.weights, biases=state.biases)
    for target, source in zip(
        network.weights + network.biases, restored.weights + restored.biases, strict=True
    ):
        target[...] = source
    if rng is None:
        rng = state.make_rng()
    else:
        rng.bit_generator.state = state.make_rng().bit_generator.state
    return rng, state.epochs_done, list(state.loss_history)


def _validation_evaluator(
    network: Network,
    loss: str,
    early_stopping: EarlyStopping | None,
    validation: tuple[ArrayLike, ArrayLike] | None,
) -> Callable[[], float] | None:
    """The loss over the validation rows that early stopping watches; None without it."""
    if early_stopping is None:
        return None
    if validation is None or len(validation[0]) == 0:
        raise ValueError("early stopping needs validation rows, and there are none")
    X_val = check.samples(validation[0], network.n_inputs, "X_val")
    Y_val = check.targets(validation[1], X_val.shape[0], network.n_outputs, "y_val")
    return _loss_evaluator(network, X_val, Y_val, loss)


def _loss_evaluator(
    network: Network, X: np.ndarray, Y: np.ndarray, loss: str
) -> Callable[[], float]:
    """The loss over the whole training set with the network's current parameters.

    Vectorised feedforwards over slices of at most FEEDFORWARD_CHUNK rows, into buffers
    allocated on the first call and kept: an epoch over a million rows needs a few MB for them,
    and allocates nothing after the first.
    """
    n = X.shape[0]
    chunk = min(n, FEEDFORWARD_CHUNK)
    buffers: list[np.ndarray] = []

    def evaluate() -> float:
        if not buffers:
            buffers.extend(np.empty((n_out, chunk)) for n_out in network.layer_sizes[1:])
        total = 0.0
        for start in range(0, n, chunk):
            rows = slice(start, min(start + chunk, n))
            width = rows.stop - start
            out = buffers if width == chunk else [buffer[:, :width] for buffer in buffers]
            outputs = forward_columns(network.weights, network.biases, X[rows].T, out)[-1]
            total += loss_sum(loss, Y[rows], outputs.T)
        return total / Y.size

    return evaluate


def _numpy_epochs(
    network: Network,
    X: np.ndarray,
    Y: np.ndarray,
    batch_size: int,
    learning_rate: float,
    loss: str,
    training_loss: Callable[[], float],
) -> Callable[[np.ndarray], float]:
    """The pure-numpy reference epoch: backprop on each batch, then update, as the seed does;
    returns `training_loss()` after the epoch."""

    def run(order: np.ndarray) -> float:
        for start in range(0, order.shape[0], batch_size):
            rows = order[start : start + batch_size]
            weight_grads, bias_grads = network.batch_gradients(X[rows], Y[rows], loss)
            for w, b, gw, gb in zip(
                network.weights, network.biases, weight_grads, bias_grads, strict=True
            ):
                w -= learning_rate * gw
                b -= learning_rate * gb
        return training_loss()

    return run
