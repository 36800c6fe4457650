"""What the dashboard's pictures are drawn from: a model's probability grid
(GET /models/{id}/decision-grid) and a sample of a dataset's rows (GET /datasets/{id}/rows)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from foundation.limits import (
    DEFAULT_GRID_STEPS,
    DEFAULT_SAMPLE_ROWS,
    MAX_GRID_STEPS,
    MAX_SAMPLE_ROWS,
)
from foundation.measurements import UNITS
from neural.decision import THRESHOLD
from service.decision_grid import AXIS_PARAMETERS
from service.measurements import BOUNDS, UNIT_NAMES, range_message
from service.schemas.fields import IdField, UnitsField


def _axis_limit(name: str, end: str) -> ma.fields.Float:
    """One end (`lowest` or `highest`) of a grid axis, a number within the measurement's bounds
    in `units`; left out, the model's default."""
    lowest = min(BOUNDS[units][name][0] for units in UNITS)
    highest = max(BOUNDS[units][name][1] for units in UNITS)
    ranges = ", ".join(
        f"{BOUNDS[units][name][0]:g}-{BOUNDS[units][name][1]:g} {UNIT_NAMES[units][name]}"
        for units in UNITS
    )
    order = f"below {name}_max" if end == "lowest" else f"above {name}_min"
    return ma.fields.Float(
        allow_nan=False,
        metadata={
            "minimum": lowest,
            "maximum": highest,
            "description": f"The {end} {name} of the grid, in `units` ({ranges}); {order}. "
            f"Default: the {end} {name} of the data the model was trained on, where "
            "its snapshot records it (training.input_range), else the accepted bound.",
        },
    )


class DecisionGridQuerySchema(ma.Schema):
    """The grid's axes and fineness; each axis defaults to the model's training data range."""

    weight_min = _axis_limit("weight", "lowest")
    weight_max = _axis_limit("weight", "highest")
    height_min = _axis_limit("height", "lowest")
    height_max = _axis_limit("height", "highest")
    steps = ma.fields.Integer(
        load_default=DEFAULT_GRID_STEPS,
        validate=ma.validate.Range(2, MAX_GRID_STEPS),
        metadata={"description": "Points along each axis, both ends included."},
    )
    units = UnitsField()

    @ma.validates_schema
    def _within_bounds(self, data: dict, **_: Any) -> None:
        units = data.get("units", "imperial")
        errors = {}
        for name, parameters in AXIS_PARAMETERS.items():
            low, high = BOUNDS[units][name]
            for parameter in parameters:
                value = data.get(parameter)
                if value is not None and not low <= value <= high:
                    errors[parameter] = [range_message(name, units)]
        if errors:
            raise ma.ValidationError(errors)


class UnitNamesSchema(ma.Schema):
    weight = ma.fields.String(required=True, metadata={"example": "lb"})
    height = ma.fields.String(required=True, metadata={"example": "in"})


class DecisionGridSchema(ma.Schema):
    """A model's probability of female over a grid of weights and heights."""

    model_id = ma.fields.String(required=True)
    units = ma.fields.Nested(
        UnitNamesSchema,
        required=True,
        metadata={"description": "The units of weights and heights (the query's `units`)."},
    )
    weights = ma.fields.List(
        ma.fields.Float(),
        required=True,
        metadata={"description": "`steps` weights, evenly spaced, lowest first."},
    )
    heights = ma.fields.List(
        ma.fields.Float(),
        required=True,
        metadata={"description": "`steps` heights, evenly spaced, lowest first."},
    )
    probability_female = ma.fields.List(
        ma.fields.List(ma.fields.Float()),
        required=True,
        metadata={
            "description": "One row per height: probability_female[i][j] is what POST /predict "
            "answers for weights[j] and heights[i] with this model."
        },
    )
    threshold = ma.fields.Float(
        required=True,
        metadata={
            "description": f"The decision threshold ({THRESHOLD}): F at or above it, M below; "
            "the decision boundary is where the field crosses it."
        },
    )


class DatasetRowsQuerySchema(ma.Schema):
    limit = ma.fields.Integer(
        load_default=DEFAULT_SAMPLE_ROWS,
        validate=ma.validate.Range(1, MAX_SAMPLE_ROWS),
        metadata={"description": "The most rows answered, picked evenly over the dataset."},
    )
    units = UnitsField(metadata={"description": "The units of the answer's weight and height."})


class DatasetRowsSchema(ma.Schema):
    """Rows of a dataset as columns: all of them, or `limit` picked evenly over it."""

    dataset_id = IdField(required=True)
    rows = ma.fields.Integer(required=True, metadata={"description": "Rows in the dataset."})
    returned = ma.fields.Integer(required=True, metadata={"description": "Rows answered here."})
    units = ma.fields.Nested(UnitNamesSchema, required=True)
    weight = ma.fields.List(ma.fields.Float(), required=True)
    height = ma.fields.List(ma.fields.Float(), required=True)
    gender = ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(["F", "M"])), required=True)
