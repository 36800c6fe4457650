"""The one predict path behind POST /predict, /invocations (MLflow) and /v2/.../infer: pick the
model from the cache, run the network, count the predictions, shape /predict's answer."""

from __future__ import annotations

from typing import NoReturn

import numpy as np

from model_store.models import LATEST
from model_store.trained_model import TrainedModel
from neural.decision import decide
from service.api import abort, abort_unknown_reference
from service.explanation import explanations
from service.metrics import count_predictions
from service.model_cache import ModelCache
from service.serving_errors import Reason, Unservable, pick_model


def probabilities(model: TrainedModel, X: np.ndarray, alias: str | None = None) -> np.ndarray:
    """Probability of female for each row of X (n, 2) in lb and in; counted in /metrics (by
    label, and by model and the `alias` that chose it)."""
    result = model.predict_proba(X)
    count_predictions(result, model.model_id, alias)
    return result


def _abort_unservable(failure: Unservable) -> NoReturn:
    """`failure` in the API's common error shape, naming its field (`model_id`, or the part of
    the store that is unreachable)."""
    if failure.reason is Reason.UNKNOWN:
        abort_unknown_reference("model_id", "model", failure.model_id or "")
    abort(failure.status, message=failure.message, errors={failure.field: [failure.message]})


def model_or_abort(
    models: ModelCache, model_id: str | None, alias: str | None, routing_key: str | None
) -> TrainedModel:
    """`pick_model`, its failures in the API's common error shape."""
    try:
        return pick_model(models, model_id, alias, routing_key)
    except Unservable as failure:
        _abort_unservable(failure)


def predict(
    models: ModelCache,
    X: np.ndarray,
    model_id: str | None,
    explain: bool = False,
    compact: bool = False,
    alias: str | None = None,
    routing_key: str | None = None,
) -> dict:
    """`{"model_id", "alias", "predictions": [{"gender", "probability_female"}]}` for X (n, 2)
    in lb, in: `model_id`'s model, else the one `alias` (default `latest`) picks, by weight or
    by `routing_key`; `alias` in the answer is null when a model_id was asked for. If
    `compact`, the predictions are columns, `{"gender": [...], "probability_female": [...]}`.

    With `explain`, each prediction also has the feedforward's intermediate values
    (`service.explanation`).
    """
    used = None if model_id is not None else alias or LATEST
    model = model_or_abort(models, model_id, used, routing_key)
    values = probabilities(model, X, used)
    if compact:
        columns = {
            "gender": np.where(decide(values), "F", "M").tolist(),
            "probability_female": values.tolist(),
        }
        if explain:
            columns["explanation"] = explanations(model, X)
        return {"model_id": model.model_id, "alias": used, "predictions": columns}
    predictions = [
        {"gender": "F" if female else "M", "probability_female": p}
        for p, female in zip(values.tolist(), decide(values).tolist(), strict=True)
    ]
    if explain:
        for prediction, explanation in zip(predictions, explanations(model, X), strict=True):
            prediction["explanation"] = explanation
    return {"model_id": model.model_id, "alias": used, "predictions": predictions}
