"""The decision rule: the output is the probability of the positive class (label 1, F in the
seed's data), and the network predicts that class at `THRESHOLD` or above. Training's accuracy,
the API's labels and its metrics all use this one rule."""

from __future__ import annotations

import numpy as np

THRESHOLD = 0.5


def decide(probabilities: np.ndarray | float) -> np.ndarray:
    """True where the probability is at or above `THRESHOLD` (the positive class), elementwise."""
    return np.asarray(probabilities) >= THRESHOLD
