"""A verified snapshot turned back into a network and its input normalization, ready to predict."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from operator import mul

import numpy as np
from numpy.typing import ArrayLike

from neural import Network, Standardizer

#: Networks with at most this many weights predict one row in plain Python floats, which for
#: the service's small networks is several times faster than a dozen numpy calls on tiny arrays.
PLAIN_MAX_WEIGHTS = 64

#: Layers as plain floats: ((rows of weights, biases), ...) per layer.
PlainLayers = tuple[tuple[tuple[tuple[float, ...], ...], tuple[float, ...]], ...]


@dataclass(frozen=True)
class TrainedModel:
    """model_id and snapshot as stored; network and standardizer rebuilt from the snapshot."""

    model_id: str
    snapshot: dict
    network: Network
    standardizer: Standardizer
    #: The normalization and layers as Python floats, for one-row predictions (None: too big).
    plain: tuple[tuple[float, ...], tuple[float, ...], PlainLayers] | None = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "plain", _plain_parameters(self.network, self.standardizer))

    @classmethod
    def from_snapshot(cls, snapshot: dict) -> TrainedModel:
        """Rebuild from a snapshot that has passed verification."""
        return cls(
            model_id=snapshot["id"],
            snapshot=snapshot,
            network=Network.from_dict(snapshot),
            standardizer=Standardizer.from_dict(snapshot["normalization"]),
        )

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Probability of female for each row.

        X : ndarray of shape (n_samples, 2), columns [weight (lb), height (in)]
        returns ndarray of shape (n_samples,)

        One finite row of a small network takes a plain-Python path (the same arithmetic: the
        normalization, then each layer's weighted sums and sigmoids); anything else goes through
        numpy, which also raises ValueError for NaN or infinite inputs.
        """
        if self.plain is not None and type(X) is np.ndarray and X.shape == (1, 2):
            row = X[0].tolist()
            if math.isfinite(row[0]) and math.isfinite(row[1]):
                return np.array(_feedforward_plain(self.plain, row))
        features = np.asarray(X, dtype=np.float64).reshape(-1, 2)
        return self.network.feedforward(self.standardizer.transform(features))[:, 0]

    def predict_one(self, weight: float, height: float) -> float:
        """Probability of female for one person (lb, in): `predict_proba` of one row, as a float,
        without making arrays when the network is small enough for the plain-Python path."""
        if self.plain is not None and math.isfinite(weight) and math.isfinite(height):
            return _feedforward_plain(self.plain, [weight, height])[0]
        return float(self.predict_proba(np.array([[weight, height]]))[0])

    def explain(self, X: ArrayLike) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
        """The feedforward step by step: (normalized inputs, each layer's (z, a)).

        X : ndarray of shape (n_samples, 2), columns [weight (lb), height (in)]
        returns the normalized inputs, ndarray of shape (n_samples, 2), and per layer the weighted
        sums z and activations a, each of shape (n_samples, layer size); the last a is
        `predict_proba(X)` as a column.
        """
        normalized = self.standardizer.transform(np.asarray(X, dtype=np.float64).reshape(-1, 2))
        return normalized, self.network.layer_values(normalized)


def _plain_parameters(
    network: Network, standardizer: Standardizer
) -> tuple[tuple[float, ...], tuple[float, ...], PlainLayers] | None:
    """(mean, scale, layers) as Python floats, or None for a network too big for plain Python."""
    if standardizer.mean is None or standardizer.scale is None:
        return None
    if sum(w.size for w in network.weights) > PLAIN_MAX_WEIGHTS:
        return None
    layers = tuple(
        (tuple(tuple(row) for row in w.tolist()), tuple(b.tolist()))
        for w, b in zip(network.weights, network.biases, strict=True)
    )
    return tuple(standardizer.mean.tolist()), tuple(standardizer.scale.tolist()), layers


def _sigmoid(z: float) -> float:
    """1 / (1 + e^-z), 0.0 where e^-z overflows (as numpy gives)."""
    try:
        return 1.0 / (1.0 + math.exp(-z))
    except OverflowError:
        return 0.0


def _feedforward_plain(
    plain: tuple[tuple[float, ...], tuple[float, ...], PlainLayers], row: list[float]
) -> list[float]:
    """The network's outputs for one row of raw features, in Python floats."""
    mean, scale, layers = plain
    a = [(x - m) / s for x, m, s in zip(row, mean, scale, strict=True)]
    for weights, biases in layers:
        a = [_sigmoid(sum(map(mul, w, a)) + b) for w, b in zip(weights, biases, strict=True)]
    return a
