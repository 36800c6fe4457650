"""A sweep's trials as hyperparameters: the values Optuna handles, and back.

Optuna's categorical values are None, booleans, numbers or strings; a list-valued
hyperparameter (`hidden_layers`) goes into a study as its JSON text ("[8, 4]") and comes out
as the list again. Every trial starts from the sweep's base hyperparameters (one seed and one
validation split for all, so every trial sees the same rows) and replaces the swept ones.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from foundation.hyperparameters import BY_NAME

#: The metric a sweep ranks by -> whether a higher value is better.
METRICS = {"validation_loss": False, "validation_accuracy": True}


def encode(name: str, value: Any) -> Any:
    """`value` of hyperparameter `name` as a study holds it."""
    return json.dumps(value) if BY_NAME[name].length is not None else value


def decode(name: str, value: Any) -> Any:
    """A study's value of hyperparameter `name` as a job takes it."""
    if BY_NAME[name].length is not None and isinstance(value, str):
        return json.loads(value)
    return value


def trial_hyperparameters(spec: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """The job's hyperparameters: the sweep's base with the trial's (study) values."""
    return {
        **spec["hyperparameters"],
        **{name: decode(name, value) for name, value in params.items()},
    }


def metric_value(metric: str, progress: Mapping[str, Any], metrics: Mapping[str, Any]) -> Any:
    """A finished trial's value of the sweep's metric (None if the job did not record it)."""
    if metric == "validation_loss":
        return (progress or {}).get("validation_loss")
    return (metrics or {}).get("validation_accuracy")
