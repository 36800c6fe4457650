"""One blueprint per resource."""

from __future__ import annotations

from service.blueprints import (
    aliases,
    batch_predictions,
    datasets,
    events,
    health,
    jobs,
    metrics,
    mlflow,
    models,
    predict,
    sweeps,
    train,
    v2,
)

BLUEPRINTS = (
    datasets.blp,
    train.blp,
    jobs.blp,
    sweeps.blp,
    events.blp,
    models.blp,
    aliases.blp,
    predict.blp,
    batch_predictions.blp,
    health.blp,
    metrics.blp,
    mlflow.blp,
    v2.blp,
)
