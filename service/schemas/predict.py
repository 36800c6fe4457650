"""POST /predict: one person, `instances` (row objects, or `[weight, height]` pairs as KServe v1's
instances are) or `inputs` (columns, as in MLflow's and TF Serving's columnar form), all validated
by the columnar row validators of `service.measurements` (errors name the row and the field).

The two compact forms, pairs and columns, cost no object a row on the way in, and are answered
in columns on the way out (`compact`), which is what makes a batch of thousands cheap."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import current_app

from foundation.limits import DEFAULT_MAX_PREDICT_ROWS
from service.measurements import (
    HEIGHT_DESCRIPTION,
    WEIGHT_DESCRIPTION,
    RowValidationError,
    validate_json_columns,
    validate_json_pairs,
    validate_json_rows,
)
from service.schemas.fields import ColumnsField, IdField, RowsField, StrictBoolean, UnitsField

#: A one-person body's fields, checked by the row validator like a row of `instances`.
_ONE_PERSON = ("weight", "height")


_ROWS = f"Up to NNSERVICE_MAX_PREDICT_ROWS (default {DEFAULT_MAX_PREDICT_ROWS}) people"


class PredictRequestSchema(ma.Schema):
    """Weight and height, or instances (objects or pairs), or inputs (columns); optionally a
    model_id."""

    #: The shapes of a request: exactly one of these sets of fields (stated in OpenAPI).
    SHAPES = (("weight", "height"), ("instances",), ("inputs",))

    weight = ma.fields.Raw(metadata={"type": "number", "description": WEIGHT_DESCRIPTION})
    height = ma.fields.Raw(metadata={"type": "number", "description": HEIGHT_DESCRIPTION})
    instances = RowsField(
        with_gender=False,
        pairs=True,
        description=f"{_ROWS}: objects, or [weight, height] pairs (answered in columns).",
    )
    inputs = ColumnsField(
        description=f"{_ROWS} as two columns of the same length (answered in columns).",
    )
    model_id = IdField(
        allow_none=True,
        load_default=None,
        metadata={"description": "A model by id; the latest when left out."},
    )
    units = UnitsField()
    explain = StrictBoolean(
        load_default=False,
        metadata={
            "description": "Also return, per row, each layer's weighted sums (z) and "
            "activations (a): the seed's h1, h2 and o1 for a 2-2-1 network."
        },
    )

    @ma.validates_schema
    def _one_shape(self, data: dict, **_: Any) -> None:
        given = [name for shape in self.SHAPES for name in shape if name in data]
        batch = [name for name in given if name not in _ONE_PERSON]
        if len(batch) > 1 or (batch and len(given) > 1):
            message = "Give weight and height, or instances, or inputs: one of them."
            raise ma.ValidationError({name: [message] for name in given})
        if not batch and len(given) < 2:
            missing = set(_ONE_PERSON) - set(given)
            raise ma.ValidationError(
                {name: ["Missing data for required field."] for name in missing}
            )

    @ma.post_load
    def _features(self, data: dict, **_: Any) -> dict:
        """Replace the input by X, ndarray of shape (n, 2) in lb and in, and `compact`: whether
        the rows came as pairs or columns (then the answer is in columns)."""
        units = data.pop("units")
        max_rows = current_app.config["NNSERVICE_SETTINGS"].max_predict_rows
        field = next((name for name in ("instances", "inputs") if name in data), None)
        rows = data.pop(field) if field else [{name: data.pop(name) for name in _ONE_PERSON}]
        pairs = field == "instances" and type(rows) is list and bool(rows) and type(rows[0]) is list
        try:
            if field == "inputs":
                columns = validate_json_columns(rows, units=units, max_rows=max_rows)
            elif pairs:
                columns = validate_json_pairs(rows, units=units, max_rows=max_rows)
            else:
                limit = max_rows if field else None
                columns = validate_json_rows(rows, units=units, with_gender=False, max_rows=limit)
        except RowValidationError as exc:
            # one person's errors name its fields; a batch's name the field, then the row
            errors = {field: exc.errors} if field else exc.errors["0"]
            raise ma.ValidationError(errors) from exc
        data["X"] = columns.features
        data["compact"] = field == "inputs" or pairs
        return data


class LayerValuesSchema(ma.Schema):
    z = ma.fields.List(
        ma.fields.Float(), required=True, metadata={"description": "Weighted sums, one a neuron."}
    )
    a = ma.fields.List(
        ma.fields.Float(), required=True, metadata={"description": "sigmoid(z), one a neuron."}
    )


class ExplanationSchema(ma.Schema):
    input = ma.fields.List(
        ma.fields.Float(), required=True, metadata={"description": "[weight (lb), height (in)]"}
    )
    normalized = ma.fields.List(
        ma.fields.Float(),
        required=True,
        metadata={"description": "(input - mean) / scale: what the network's first layer sees."},
    )
    layers = ma.fields.List(
        ma.fields.Nested(LayerValuesSchema),
        required=True,
        metadata={
            "description": "Hidden layers, then the output layer (whose a is "
            "probability_female). For the seed's network: [{z: [sum_h1, sum_h2], a: [h1, h2]}, "
            "{z: [sum_o1], a: [o1]}]."
        },
    )


class PredictionSchema(ma.Schema):
    gender = ma.fields.String(required=True, validate=ma.validate.OneOf(["F", "M"]))
    probability_female = ma.fields.Float(required=True)
    explanation = ma.fields.Nested(
        ExplanationSchema, metadata={"description": 'Only with "explain": true.'}
    )


class PredictionColumnsSchema(ma.Schema):
    """The predictions of a compact request (pairs or columns): one column a field, a value a
    row, in the rows' order."""

    gender = ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(["F", "M"])), required=True)
    probability_female = ma.fields.List(ma.fields.Float(), required=True)
    explanation = ma.fields.List(
        ma.fields.Nested(ExplanationSchema), metadata={"description": 'Only with "explain": true.'}
    )


#: The components of the two forms of `predictions` (registered by `service.app`).
PREDICTION_COMPONENTS = {
    "Prediction": PredictionSchema,
    "PredictionColumns": PredictionColumnsSchema,
}


class PredictResponseSchema(ma.Schema):
    model_id = ma.fields.String(required=True)
    predictions = ma.fields.Raw(
        required=True,
        metadata={
            "description": "One object a row when the rows came as objects (or one person); "
            "columns when they came as [weight, height] pairs or as inputs columns.",
            "oneOf": [
                {"type": "array", "items": {"$ref": "#/components/schemas/Prediction"}},
                {"$ref": "#/components/schemas/PredictionColumns"},
            ],
        },
    )
