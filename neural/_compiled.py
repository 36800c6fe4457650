"""The compiled SGD inner loop (numba), over parameters flattened into one vector.

Any depth and width is handled by generic loops over layers: `params` holds, for each layer l,
weights[l] row-major at `w_off[l]` and biases[l] at `b_off[l]`; the activations and deltas of
every layer (inputs included) sit in scratch vectors at `a_off[l]`. The arithmetic is the same as
the numpy reference path (`Network.batch_gradients`), so both give the same weights to rounding.
numba's cache directory follows NUMBA_CACHE_DIR when set, else `__pycache__` beside this file.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

try:
    from numba import njit

    NUMBA_AVAILABLE = True
except ImportError:  # pragma: no cover - numba is a dependency; this keeps the numpy path usable
    NUMBA_AVAILABLE = False


def _jit(function):
    """numba.njit with its on-disk cache, or without it where numba finds no writable cache dir.

    Without numba the function is returned as it is (plain Python: correct, slow, unused).
    """
    if not NUMBA_AVAILABLE:
        return function
    try:
        return njit(cache=True, error_model="numpy")(function)
    except RuntimeError:  # "cannot cache function ...: no locator available"
        return njit(error_model="numpy")(function)


@_jit
def sgd_epoch(params, sizes, w_off, b_off, a_off, X, Y, order, batch_size, lr, log_loss):
    """One epoch of SGD over the rows `order` of X, Y, in batches of `batch_size`, in place.

    A batch of one updates the parameters right after its backward pass (the seed's per-sample SGD);
    a larger batch sums the gradients and subtracts lr times their mean. The layout (`sizes` and
    the offsets) comes as tuples of ints: unlike arrays they cannot alias `params`, which keeps them
    in registers, and numba compiles one specialization per network depth.
    """
    n_layers = len(sizes) - 1
    n_out = sizes[n_layers]
    inv_out = 1.0 / n_out
    n_units = a_off[n_layers] + n_out
    act = np.empty(n_units)
    delta = np.empty(n_units)
    grad = np.zeros(params.shape[0])
    n = order.shape[0]
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        m = stop - start
        direct = m == 1
        if not direct:
            grad[:] = 0.0
        for s in range(start, stop):
            i = order[s]
            for k in range(sizes[0]):
                act[k] = X[i, k]
            for layer in range(n_layers):
                n_in = sizes[layer]
                ai = a_off[layer]
                ao = a_off[layer + 1]
                wo = w_off[layer]
                bo = b_off[layer]
                last = layer == n_layers - 1
                for j in range(sizes[layer + 1]):
                    z = 0.0
                    for k in range(n_in):
                        z += params[wo + j * n_in + k] * act[ai + k]
                    p = 1.0 / (1.0 + np.exp(-(z + params[bo + j])))
                    act[ao + j] = p
                    if last:
                        if log_loss:
                            delta[ao + j] = (p - Y[i, j]) * inv_out
                        else:
                            delta[ao + j] = (-2.0 * inv_out * (Y[i, j] - p)) * (p * (1.0 - p))
            for layer in range(n_layers - 1, -1, -1):
                n_in = sizes[layer]
                n_o = sizes[layer + 1]
                ai = a_off[layer]
                ao = a_off[layer + 1]
                wo = w_off[layer]
                bo = b_off[layer]
                if layer > 0:
                    for k in range(n_in):
                        back = 0.0
                        for j in range(n_o):
                            back += params[wo + j * n_in + k] * delta[ao + j]
                        a = act[ai + k]
                        delta[ai + k] = back * (a * (1.0 - a))
                for j in range(n_o):
                    d = delta[ao + j]
                    row = wo + j * n_in
                    if direct:
                        for k in range(n_in):
                            params[row + k] -= lr * (d * act[ai + k])
                        params[bo + j] -= lr * d
                    else:
                        for k in range(n_in):
                            grad[row + k] += d * act[ai + k]
                        grad[bo + j] += d
        if not direct:
            for q in range(params.shape[0]):
                params[q] -= lr * (grad[q] / m)


@dataclass(frozen=True)
class FlatLayout:
    """Where each layer's weights, biases and activations sit in the flat vectors."""

    sizes: tuple[int, ...]
    w_off: tuple[int, ...]
    b_off: tuple[int, ...]
    a_off: tuple[int, ...]

    @classmethod
    def of(cls, layer_sizes: tuple[int, ...]) -> FlatLayout:
        """The layout for a network with these layer sizes."""
        w_off, b_off, a_off, offset = [], [], [0], 0
        for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:], strict=True):
            w_off.append(offset)
            offset += n_in * n_out
            b_off.append(offset)
            offset += n_out
            a_off.append(a_off[-1] + n_in)
        return cls(tuple(int(n) for n in layer_sizes), tuple(w_off), tuple(b_off), tuple(a_off))

    def flatten(self, weights: list[np.ndarray], biases: list[np.ndarray]) -> np.ndarray:
        """One float64 vector holding every weight (row-major) and bias, layer by layer."""
        return np.concatenate(
            [part for w, b in zip(weights, biases, strict=True) for part in (w.ravel(), b)]
        )

    def unflatten_into(
        self, params: np.ndarray, weights: list[np.ndarray], biases: list[np.ndarray]
    ) -> None:
        """Copy `params` back into the existing arrays `weights` and `biases`."""
        for layer, (w, b) in enumerate(zip(weights, biases, strict=True)):
            w[...] = params[self.w_off[layer] : self.w_off[layer] + w.size].reshape(w.shape)
            b[...] = params[self.b_off[layer] : self.b_off[layer] + b.size]


class CompiledEpochs:
    """Runs epochs of `sgd_epoch` on one network and data set, keeping the network in sync.

    X : ndarray of shape (n, n_in) and Y of shape (n, n_out), both C-contiguous float64.
    """

    def __init__(
        self,
        weights: list[np.ndarray],
        biases: list[np.ndarray],
        X: np.ndarray,
        Y: np.ndarray,
        batch_size: int,
        learning_rate: float,
        log_loss: bool,
    ) -> None:
        self.weights, self.biases = weights, biases
        sizes = (weights[0].shape[1], *(w.shape[0] for w in weights))
        self.layout = FlatLayout.of(sizes)
        self.params = self.layout.flatten(weights, biases)
        self.X, self.Y = X, Y
        self.batch_size = int(batch_size)
        self.learning_rate = float(learning_rate)
        self.log_loss = bool(log_loss)

    def run(self, order: np.ndarray) -> None:
        """One epoch over the rows in `order` (int64), then copy the parameters to the network."""
        lay = self.layout
        sgd_epoch(
            self.params, lay.sizes, lay.w_off, lay.b_off, lay.a_off, self.X, self.Y, order,
            self.batch_size, self.learning_rate, self.log_loss,
        )  # fmt: skip
        lay.unflatten_into(self.params, self.weights, self.biases)


def warm_up(hidden_layers: tuple[int, ...] = (1,)) -> bool:
    """Compile (or load from numba's cache) the kernel, so a worker pays that once at start.

    numba specializes the kernel per network depth; `hidden_layers` lists the numbers of hidden
    layers to prepare (the service's default network has one). Returns True when the compiled path
    is available, False when numba is not installed.
    """
    if not NUMBA_AVAILABLE:
        return False
    X = np.zeros((2, 2))
    Y = np.zeros((2, 1))
    order = np.arange(2, dtype=np.int64)
    for depth in hidden_layers:
        sizes = (2,) + (2,) * depth + (1,)
        weights = [
            np.full((n_out, n_in), 0.5) for n_in, n_out in zip(sizes, sizes[1:], strict=False)
        ]
        biases = [np.zeros(n_out) for n_out in sizes[1:]]
        CompiledEpochs(weights, biases, X, Y, 1, 0.1, False).run(order)
    return True
