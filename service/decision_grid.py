"""The probability field behind the dashboard's picture of a model: its probability of female on
a regular grid of weights and heights, with the decision threshold that draws its boundary.

The grid's points go through the same forward pass as /predict (`TrainedModel.predict_proba`
after the same unit conversion, `service.measurements.to_imperial`), so a point of the grid
answers exactly what /predict answers for that person. They are not counted as predictions in
/metrics: a picture is not a prediction.

The axes default to the range of the data the model was trained on, when its snapshot records it
(`training.input_range`, written by the worker), else to the measurements' accepted bounds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from model_store.trained_model import TrainedModel
from neural.decision import THRESHOLD
from service.measurements import BOUNDS, MEASURED, UNIT_NAMES, from_imperial, to_imperial

#: The query parameters of each axis: measurement -> (lowest, highest).
AXIS_PARAMETERS = {name: (f"{name}_min", f"{name}_max") for name in MEASURED}


class GridError(Exception):
    """A grid that cannot be drawn: `errors` names the parameters and the rule."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__(errors)
        self.errors = errors


def _recorded_range(training: object, name: str) -> tuple[float, float] | None:
    """The snapshot's `training.input_range[name]` in lb or in, if it is a usable [low, high]."""
    ranges = training.get("input_range") if isinstance(training, Mapping) else None
    value = ranges.get(name) if isinstance(ranges, Mapping) else None
    if not (isinstance(value, list) and len(value) == 2):
        return None
    if not all(type(v) in (int, float) and math.isfinite(v) for v in value):
        return None
    low, high = float(value[0]), float(value[1])
    return (low, high) if low <= high else None


def default_ranges(model: TrainedModel, units: str) -> dict[str, tuple[float, float]]:
    """Each axis's default (lowest, highest) in `units`: the training data's range where the
    snapshot records it (widened by one unit where it is a single value), within the accepted
    bounds; else (or where that leaves nothing) the accepted bounds."""
    ranges = {}
    for column, name in enumerate(MEASURED):
        low_bound, high_bound = BOUNDS[units][name]
        recorded = _recorded_range(model.snapshot.get("training"), name)
        if recorded is None:
            ranges[name] = (low_bound, high_bound)
            continue
        ends = np.zeros((2, len(MEASURED)))
        ends[:, column] = recorded
        low, high = from_imperial(ends, units)[:, column].tolist()
        if low == high:
            low, high = low - 1.0, high + 1.0
        low, high = max(low, low_bound), min(high, high_bound)
        ranges[name] = (low, high) if low < high else (low_bound, high_bound)
    return ranges


def grid_axes(query: Mapping, model: TrainedModel) -> dict[str, tuple[float, float]]:
    """Each axis's (lowest, highest) in the query's units: the query's values, the model's
    defaults for those left out; GridError naming the parameters where lowest >= highest."""
    units = query["units"]
    defaults = default_ranges(model, units)
    axes, errors = {}, {}
    for name, (low_name, high_name) in AXIS_PARAMETERS.items():
        given_low, given_high = query.get(low_name), query.get(high_name)
        low = defaults[name][0] if given_low is None else float(given_low)
        high = defaults[name][1] if given_high is None else float(given_high)
        if low >= high:
            unit = UNIT_NAMES[units][name]
            message = (
                f"{low_name} ({low:g} {unit}) must be less than {high_name} ({high:g} {unit})."
            )
            errors[low_name] = [message]
            errors[high_name] = [message]
        axes[name] = (low, high)
    if errors:
        raise GridError(errors)
    return axes


def decision_grid(model: TrainedModel, query: Mapping) -> dict:
    """The answer of GET /models/{id}/decision-grid: `steps` weights and `steps` heights evenly
    spaced over the axes (`grid_axes`), both ends included, and `probability_female[i][j]`
    for (weights[j], heights[i]): one row per height."""
    units, steps = query["units"], query["steps"]
    axes = grid_axes(query, model)
    weights = np.linspace(*axes["weight"], steps)
    heights = np.linspace(*axes["height"], steps)
    weight_grid, height_grid = np.meshgrid(weights, heights)  # (steps heights, steps weights)
    points = np.column_stack([weight_grid.ravel(), height_grid.ravel()])
    values = model.predict_proba(to_imperial(points, units)).reshape(steps, steps)
    return {
        "model_id": model.model_id,
        "units": dict(UNIT_NAMES[units]),
        "weights": weights.tolist(),
        "heights": heights.tolist(),
        "probability_female": values.tolist(),
        "threshold": THRESHOLD,
    }
