"""A verified snapshot turned back into a network and its input normalization, ready to predict."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from neural import Network, Standardizer


@dataclass(frozen=True)
class TrainedModel:
    """model_id and snapshot as stored; network and standardizer rebuilt from the snapshot."""

    model_id: str
    snapshot: dict
    network: Network
    standardizer: Standardizer

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
        Raises ValueError for NaN or infinite inputs.
        """
        features = np.asarray(X, dtype=np.float64).reshape(-1, 2)
        return self.network.feedforward(self.standardizer.transform(features))[:, 0]

    def explain(self, X: ArrayLike) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
        """The feedforward step by step: (normalized inputs, each layer's (z, a)).

        X : ndarray of shape (n_samples, 2), columns [weight (lb), height (in)]
        returns the normalized inputs, ndarray of shape (n_samples, 2), and per layer the weighted
        sums z and activations a, each of shape (n_samples, layer size); the last a is
        `predict_proba(X)` as a column.
        """
        normalized = self.standardizer.transform(np.asarray(X, dtype=np.float64).reshape(-1, 2))
        return normalized, self.network.layer_values(normalized)
