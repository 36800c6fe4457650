"""One blueprint per resource."""

from __future__ import annotations

from service.blueprints import datasets, events, health, jobs, models, predict, train

BLUEPRINTS = (
    datasets.blp,
    train.blp,
    jobs.blp,
    events.blp,
    models.blp,
    predict.blp,
    health.blp,
)
