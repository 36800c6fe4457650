"""The training hyperparameters' defaults and allowed ranges, defined once: the API validates and
documents requests with them (`service.schemas.train`), fills the defaults into each job record,
and the worker reads them back (`worker.training_setup`, `worker.celery_app`)."""

from __future__ import annotations

from typing import Any

#: Used for every hyperparameter a POST /train leaves out (`seed` None: one is drawn and recorded).
DEFAULTS: dict[str, Any] = {
    "hidden_layers": [2],
    "epochs": 1000,
    "learning_rate": 0.1,
    "batch_size": 1,
    "loss": "mse",
    "shuffle": True,
    "seed": None,
    "validation_fraction": 0.0,
    "normalization": "standard",
}
#: Hidden layers (count) and neurons per hidden layer.
HIDDEN_LAYERS = (1, 4)
NEURONS_PER_LAYER = (1, 64)
EPOCHS = (1, 100_000)
#: Exclusive low end, inclusive high end.
LEARNING_RATE = (0.0, 10.0)
BATCH_SIZE = (1, 100_000)
LOSSES = ("mse", "log_loss")
MAX_SEED = 2**32 - 1
VALIDATION_FRACTION = (0.0, 0.9)
NORMALIZATIONS = ("standard", "none")
