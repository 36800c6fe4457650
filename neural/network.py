"""A fully connected sigmoid network of any depth: feedforward, backprop, JSON-able parameters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from neural import _validation as check
from neural.activations import sigmoid_inplace
from neural.losses import check_loss_name, output_delta

#: Samples per slice in `Network.feedforward` (and the training-set loss): bounds the temporaries.
FEEDFORWARD_CHUNK = 65_536


class Network:
    """Layers of sigmoid neurons, parameters stored as in Nielsen's `network.py`.

    `weights[l]` has shape (n_out, n_in) and `biases[l]` shape (n_out,) for the layer from
    `layer_sizes[l]` to `layer_sizes[l + 1]` neurons. The seed's 2-2-1 network's scalars map as::

        weights[0] = [[w1, w2], [w3, w4]]    biases[0] = [b1, b2]    (h1, h2)
        weights[1] = [[w5, w6]]              biases[1] = [b3]        (o1)

    Missing weights or biases are drawn from a standard normal, like the seed's
    `np.random.normal()`, using `rng` (a `numpy.random.Generator`; a fresh unseeded one if None):
    all weights layer by layer first, then all biases.
    """

    def __init__(
        self,
        layer_sizes: Sequence[int] = (2, 2, 1),
        weights: Sequence[ArrayLike] | None = None,
        biases: Sequence[ArrayLike] | None = None,
        rng: np.random.Generator | None = None,
    ) -> None:
        self.layer_sizes: tuple[int, ...] = check.layer_sizes(layer_sizes)
        shapes = list(zip(self.layer_sizes[1:], self.layer_sizes[:-1], strict=False))
        if (weights is None or biases is None) and rng is None:
            rng = np.random.default_rng()
        if weights is None:
            weights = [rng.standard_normal(shape) for shape in shapes]
        if biases is None:
            biases = [rng.standard_normal(n_out) for n_out, _ in shapes]
        self.weights: list[np.ndarray] = _parameters(weights, shapes, "weights")
        self.biases: list[np.ndarray] = _parameters(biases, [(n,) for n, _ in shapes], "biases")

    @property
    def n_inputs(self) -> int:
        """Number of input features."""
        return self.layer_sizes[0]

    @property
    def n_outputs(self) -> int:
        """Number of output neurons."""
        return self.layer_sizes[-1]

    def feedforward(self, x: ArrayLike) -> np.ndarray:
        """Outputs: one sample (n_in,) gives (n_out,), a batch (n, n_in) gives (n, n_out).

        A batch goes through in slices of FEEDFORWARD_CHUNK samples, so a million rows need a
        few MB of activations rather than hundreds.
        """
        a = check.finite_array(x, "x")
        if a.shape[-1:] != (self.n_inputs,) or a.ndim not in (1, 2):
            n = self.n_inputs
            raise ValueError(f"x must have shape ({n},) or (n, {n}), got {a.shape}")
        if a.ndim == 1:
            return np.array(one_sample(self.weights, self.biases, a.tolist()))
        if a.shape[0] == 1:  # one person, the usual request: a few numpy calls instead of dozens
            return np.array([one_sample(self.weights, self.biases, a[0].tolist())])
        outputs = np.empty((a.shape[0], self.n_outputs))
        for start in range(0, a.shape[0], FEEDFORWARD_CHUNK):
            chunk = a[start : start + FEEDFORWARD_CHUNK].T
            outputs[start : start + FEEDFORWARD_CHUNK] = forward_columns(
                self.weights, self.biases, chunk, by_sample=True
            )[-1].T
        return outputs

    def layer_values(self, X: ArrayLike) -> list[tuple[np.ndarray, np.ndarray]]:
        """Each layer's weighted sums and activations, to follow the feedforward by hand.

        X has shape (n, n_in); returns one `(z, a)` per layer after the input, each of shape
        (n, n_l), with `z = a_prev @ weights[l].T + biases[l]` and `a = sigmoid(z)`; the last `a`
        is `feedforward(X)`. For the seed's 2-2-1 network: `[([sum_h1, sum_h2], [h1, h2]),
        ([sum_o1], [o1])]` per row.
        """
        a = check.finite_array(X, "X")
        if a.ndim != 2 or a.shape[1] != self.n_inputs:
            raise ValueError(f"X must have shape (n, {self.n_inputs}), got {a.shape}")
        sums: list[np.ndarray] = []
        activations = forward_columns(self.weights, self.biases, a.T, sums=sums, by_sample=True)
        return [(z.T.copy(), act.T.copy()) for z, act in zip(sums, activations[1:], strict=True)]

    def backprop(
        self, x: ArrayLike, y_true: ArrayLike, loss: str = "mse"
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Partial derivatives of the loss on one sample, as (weight_grads, bias_grads).

        x has shape (n_in,) and y_true (n_out,) (a scalar for one output); the gradients are lists
        shaped like `weights` and `biases`.
        """
        check_loss_name(loss)
        X = check.finite_array(x, "x").reshape(1, -1)
        X = check.samples(X, self.n_inputs, "x")
        Y = check.finite_array(y_true, "y_true").reshape(1, -1)
        Y = check.targets(Y, 1, self.n_outputs, "y_true")
        return self.batch_gradients(X, Y, loss)

    def batch_gradients(
        self, X: np.ndarray, Y: np.ndarray, loss: str
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Gradients of the loss averaged over a batch: X (m, n_in), Y (m, n_out), both checked.

        The backward pass uses the weights as they are before any update, as the seed does.
        """
        activations = forward_columns(self.weights, self.biases, X.T)
        delta = output_delta(loss, Y.T, activations[-1], self.n_outputs)
        m = X.shape[0]
        weight_grads: list[np.ndarray] = [np.empty(0)] * len(self.weights)
        bias_grads: list[np.ndarray] = [np.empty(0)] * len(self.biases)
        for layer in range(len(self.weights) - 1, -1, -1):
            a_in = activations[layer]
            weight_grads[layer] = delta @ a_in.T / m
            bias_grads[layer] = delta.sum(axis=1) / m
            if layer:
                delta = (self.weights[layer].T @ delta) * (a_in * (1.0 - a_in))
        return weight_grads, bias_grads

    def to_dict(self) -> dict[str, Any]:
        """{"layer_sizes", "weights", "biases"} as plain lists; JSON round trips are bit-exact."""
        return {
            "layer_sizes": list(self.layer_sizes),
            "weights": [w.tolist() for w in self.weights],
            "biases": [b.tolist() for b in self.biases],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Network:
        """Rebuild from `to_dict()` output; other keys (a whole snapshot's) are ignored."""
        try:
            return cls(data["layer_sizes"], weights=data["weights"], biases=data["biases"])
        except KeyError as exc:
            raise ValueError(f"network data lacks {exc.args[0]!r}") from exc

    def copy(self) -> Network:
        """An independent copy with the same parameters."""
        return Network(self.layer_sizes, weights=self.weights, biases=self.biases)


def forward_columns(
    weights: Sequence[np.ndarray],
    biases: Sequence[np.ndarray],
    a: np.ndarray,
    buffers: Sequence[np.ndarray] | None = None,
    sums: list[np.ndarray] | None = None,
    by_sample: bool = False,
) -> list[np.ndarray]:
    """Every layer's activations, a column per sample: (n_in, n) -> [a, (n_1, n), ..., (n_out, n)].

    Samples as columns keep the bias broadcast along the long axis, which numpy does far faster than
    along a short last axis. `buffers` (one (n_l, n) float64 array per layer) avoids allocations.
    If `sums` is a list, each layer's weighted sums z (before the sigmoid) are appended to it.
    With `by_sample`, each sample's outputs are the same bits whatever other samples share the
    batch (`sample_sums`): what prediction needs; training keeps BLAS's matrix product.
    """
    activations = [a]
    for layer, (w, b) in enumerate(zip(weights, biases, strict=True)):
        if by_sample:
            z = sample_sums(w, a)
        else:
            z = w @ a if buffers is None else np.matmul(w, a, out=buffers[layer])
        z += b[:, None]
        if sums is not None:
            sums.append(z.copy())
        a = sigmoid_inplace(z)
        activations.append(a)
    return activations


def one_sample(
    weights: Sequence[np.ndarray], biases: Sequence[np.ndarray], a: list[float]
) -> list[float]:
    """One sample's outputs, the very bits `forward_columns` gives it in any batch (`by_sample`).

    Python floats round each product and sum once, in the order `sample_sums` adds them, and the
    sigmoid is `sigmoid_inplace`'s steps with numpy's own exp, one call a layer: for one sample
    this is a few numpy calls where the columns take dozens, each costing more than the
    arithmetic (a single-row prediction is the API's most frequent request).
    """
    for w, b in zip(weights, biases, strict=True):
        sums = []
        for row, bias in zip(w.tolist(), b.tolist(), strict=True):
            total = row[0] * a[0]
            for k in range(1, len(a)):
                total += row[k] * a[k]
            sums.append(-(total + bias))
        with np.errstate(over="ignore"):  # as in `sigmoid_inplace`: e^710 is inf, 1/inf is 0.0
            exps = np.exp(sums).tolist()
        a = [1.0 / (e + 1.0) for e in exps]
    return a


def sample_sums(w: np.ndarray, a: np.ndarray) -> np.ndarray:
    """`w @ a` for w (n_out, n_in) and a column per sample a (n_in, n), each sample's sums added
    input by input in the same order whatever n is.

    BLAS picks its kernels by the matrix's shape (vector lanes, fused multiply-adds, the columns
    left over after the last full lane), so a sample's `w @ a` may differ in its last bit with
    the number of samples beside it: the same person would get another probability in another
    request. Elementwise products and sums are each rounded once, the same for every column.
    """
    z = w[:, :1] * a[:1]
    if w.shape[1] > 1:
        term = np.empty_like(z)
        for k in range(1, w.shape[1]):
            np.multiply(w[:, k : k + 1], a[k : k + 1], out=term)
            z += term
    return z


def _parameters(
    values: Sequence[ArrayLike], shapes: list[tuple[int, ...]], name: str
) -> list[np.ndarray]:
    """Copies of `values` as finite float64 arrays of exactly `shapes`."""
    if isinstance(values, np.ndarray) or len(values) != len(shapes):
        raise ValueError(f"{name} must be a list of {len(shapes)} arrays, one per layer")
    arrays = []
    for layer, (value, shape) in enumerate(zip(values, shapes, strict=True)):
        array = check.finite_array(value, f"{name}[{layer}]")
        if array.shape != shape:
            raise ValueError(f"{name}[{layer}] must have shape {shape}, got {array.shape}")
        arrays.append(array.copy())
    return arrays
