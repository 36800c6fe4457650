"""`"explain": true` on POST /predict: the feedforward of each row, value by value.

For the seed's 2-2-1 network a row's explanation is::

    {"input": [weight_lb, height_in],            # after unit conversion
     "normalized": [x0, x1],                     # (input - mean) / scale: what the network sees
     "layers": [{"z": [sum_h1, sum_h2], "a": [h1, h2]},
                {"z": [sum_o1], "a": [o1]}]}     # o1 is probability_female

with `sum_h1 = w1 * x0 + w2 * x1 + b1`, `h1 = sigmoid(sum_h1)` and so on, as in the seed.
"""

from __future__ import annotations

import numpy as np

from model_store.trained_model import TrainedModel


def explanations(model: TrainedModel, X: np.ndarray) -> list[dict]:
    """One explanation per row of X (n, 2) in lb and in."""
    normalized, layers = model.explain(X)
    inputs, scaled = X.tolist(), normalized.tolist()
    values = [(z.tolist(), a.tolist()) for z, a in layers]
    return [
        {
            "input": inputs[row],
            "normalized": scaled[row],
            "layers": [{"z": z[row], "a": a[row]} for z, a in values],
        }
        for row in range(len(inputs))
    ]
