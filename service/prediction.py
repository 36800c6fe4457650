"""The work behind POST /predict: pick the model, run the network, shape the answer."""

from __future__ import annotations

import numpy as np

from model_store.errors import NotFound
from service.api import abort, abort_unknown_reference
from service.model_cache import ModelCache, NoModelYet


def predict(models: ModelCache, X: np.ndarray, model_id: str | None) -> dict:
    """`{"model_id", "predictions": [{"gender", "probability_female"}]}` for X (n, 2) in lb, in."""
    if model_id is None:
        try:
            model = models.latest()
        except NoModelYet as exc:
            message = f"{exc}: train one with POST /train first"
            abort(409, message=message, errors={"model_id": [message]})
    else:
        try:
            model = models.get(model_id)
        except NotFound:
            abort_unknown_reference("model_id", "model", model_id)
    probabilities = model.predict_proba(X).tolist()
    return {
        "model_id": model.model_id,
        "predictions": [
            {"gender": "F" if p >= 0.5 else "M", "probability_female": p} for p in probabilities
        ],
    }
