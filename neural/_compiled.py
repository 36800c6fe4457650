"""The compiled SGD inner loop (numba), over parameters flattened into one vector.

Any depth and width is handled by generic loops over layers: `params` holds, for each layer l,
weights[l] row-major at `w_off[l]` and biases[l] at `b_off[l]`; the activations and deltas of
every layer (inputs included) sit in scratch vectors at `a_off[l]`. The arithmetic is the same as
the numpy reference path (`Network.batch_gradients`), so both give the same weights to rounding.

numba is imported only when the kernel is first needed (`kernel()`: a training run or
`warm_up()`), so a process that only predicts (the API) never loads numba and llvmlite.
numba's cache directory follows NUMBA_CACHE_DIR when set, else `__pycache__` beside this file.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from neural.network import Network

#: Whether numba is installed (looked up without importing it).
NUMBA_AVAILABLE = importlib.util.find_spec("numba") is not None

#: Up to this many rows the kernel computes each epoch's loss itself (no numpy call per epoch);
#: above it numpy's vectorised exp is faster than the kernel's scalar one (~8 vs ~30 ns a row).
KERNEL_LOSS_MAX_ROWS = 512

#: Predictions are clipped to [EPS, 1 - EPS] in the log-loss (as `neural.losses.EPS`).
EPS = 1e-15


def _forward(params, sizes, w_off, b_off, a_off, X, i, act):
    """Feed row i of X through the network: every layer's activations into `act` at `a_off`."""
    for k in range(sizes[0]):
        act[k] = X[i, k]
    for layer in range(len(sizes) - 1):
        n_in = sizes[layer]
        ai = a_off[layer]
        ao = a_off[layer + 1]
        wo = w_off[layer]
        bo = b_off[layer]
        for j in range(sizes[layer + 1]):
            z = 0.0
            for k in range(n_in):
                z += params[wo + j * n_in + k] * act[ai + k]
            act[ao + j] = 1.0 / (1.0 + np.exp(-(z + params[bo + j])))


def _sgd_epoch(
    params, sizes, w_off, b_off, a_off, X, Y, order, batch_size, lr, log_loss, with_loss
):
    """One epoch of SGD over the rows `order` of X, Y, in batches of `batch_size`, in place;
    with `with_loss`, returns the loss over every row of X, Y with the updated parameters (else 0).

    A batch of one updates the parameters right after its backward pass (the seed's per-sample SGD);
    a larger batch sums the gradients and subtracts lr times their mean. The layout (`sizes` and
    the offsets) comes as tuples of ints: unlike arrays they cannot alias `params`, which keeps them
    in registers, and numba compiles one specialization per network depth. The loss is the mean
    over rows and outputs, as `neural.losses` computes it, summed in blocks of 256 terms.
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
            _forward(params, sizes, w_off, b_off, a_off, X, i, act)
            ao = a_off[n_layers]
            for j in range(n_out):
                p = act[ao + j]
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
    if not with_loss:
        return 0.0

    total = 0.0
    block = 0.0
    terms = 0
    for i in range(X.shape[0]):
        _forward(params, sizes, w_off, b_off, a_off, X, i, act)
        ao = a_off[n_layers]
        for j in range(n_out):
            p = act[ao + j]
            t = Y[i, j]
            if log_loss:
                p = min(max(p, EPS), 1.0 - EPS)
                block -= t * np.log(p) + (1.0 - t) * np.log1p(-p)
            else:
                block += (t - p) * (t - p)
            terms += 1
            if terms % 256 == 0:
                total += block
                block = 0.0
    return (total + block) / terms


_kernel: Callable | None = None


def kernel() -> Callable:
    """`_sgd_epoch` (and `_forward`) compiled by numba, imported here on first use, with numba's
    on-disk cache.

    Where numba finds no writable cache directory the kernel is compiled without the cache.
    """
    global _kernel, _forward
    if _kernel is None:
        from numba import njit

        def jit(function: Callable) -> Callable:
            try:
                return njit(cache=True, error_model="numpy")(function)
            except RuntimeError:  # "cannot cache function ...: no locator available"
                return njit(error_model="numpy")(function)

        # The kernel calls `_forward` through this module's globals: compile it first.
        _forward = jit(_forward)
        _kernel = jit(_sgd_epoch)
    return _kernel


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

    def views(
        self, params: np.ndarray, layer_sizes: tuple[int, ...]
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Arrays shaped like a network's weights and biases that share memory with `params`."""
        weights, biases = [], []
        for layer, (n_in, n_out) in enumerate(zip(layer_sizes[:-1], layer_sizes[1:], strict=True)):
            start = self.w_off[layer]
            weights.append(params[start : start + n_in * n_out].reshape(n_out, n_in))
            biases.append(params[self.b_off[layer] : self.b_off[layer] + n_out])
        return weights, biases


class CompiledEpochs:
    """Runs epochs of the compiled kernel on one network and data set.

    While it is open, the network's `weights` and `biases` lists hold views of the flat parameter
    vector the kernel updates, so the network is current after every epoch at no cost; `close()`
    copies the parameters back into the network's own arrays and puts those back in the lists.
    X : ndarray of shape (n, n_in) and Y of shape (n, n_out), both C-contiguous float64.
    `training_loss()` gives the loss over X, Y from the network's current parameters; it is used
    above KERNEL_LOSS_MAX_ROWS rows, below that the kernel computes the loss itself.
    """

    def __init__(
        self,
        network: Network,
        X: np.ndarray,
        Y: np.ndarray,
        batch_size: int,
        learning_rate: float,
        log_loss: bool,
        training_loss: Callable[[], float],
    ) -> None:
        self.run_kernel = kernel()
        self.network = network
        self.originals = (list(network.weights), list(network.biases))
        self.layout = FlatLayout.of(tuple(network.layer_sizes))
        self.params = self.layout.flatten(*self.originals)
        network.weights[:], network.biases[:] = self.layout.views(self.params, self.layout.sizes)
        self.X, self.Y = X, Y
        self.batch_size = int(batch_size)
        self.learning_rate = float(learning_rate)
        self.log_loss = bool(log_loss)
        self.in_kernel = X.shape[0] <= KERNEL_LOSS_MAX_ROWS
        self.training_loss = training_loss

    def run(self, order: np.ndarray) -> float:
        """One epoch over the rows in `order` (int64); returns the loss over all rows after it."""
        lay = self.layout
        loss = self.run_kernel(
            self.params, lay.sizes, lay.w_off, lay.b_off, lay.a_off, self.X, self.Y, order,
            self.batch_size, self.learning_rate, self.log_loss, self.in_kernel,
        )  # fmt: skip
        return loss if self.in_kernel else self.training_loss()

    def close(self) -> None:
        """Copy the parameters into the network's own arrays and give them back to it."""
        weights, biases = self.originals
        for target, source in zip(
            weights + biases, self.network.weights + self.network.biases, strict=True
        ):
            target[...] = source
        self.network.weights[:], self.network.biases[:] = weights, biases
