"""POST /predict: one person or `instances`, both validated by the one columnar row validator
(`service.measurements.validate_json_rows`; errors name the row and the field)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import current_app

from foundation.limits import DEFAULT_MAX_PREDICT_ROWS
from service.measurements import (
    HEIGHT_DESCRIPTION,
    WEIGHT_DESCRIPTION,
    RowValidationError,
    validate_json_rows,
)
from service.schemas.fields import AliasField, IdField, RowsField, StrictBoolean, UnitsField

#: A one-person body's fields, checked by the row validator like a row of `instances`.
_ONE_PERSON = ("weight", "height")


class PredictRequestSchema(ma.Schema):
    """Either weight and height, or instances (a list of them); optionally a model_id."""

    #: The two shapes of a request: exactly one of these sets of fields (stated in OpenAPI).
    SHAPES = (("weight", "height"), ("instances",))

    weight = ma.fields.Raw(metadata={"type": "number", "description": WEIGHT_DESCRIPTION})
    height = ma.fields.Raw(metadata={"type": "number", "description": HEIGHT_DESCRIPTION})
    instances = RowsField(
        with_gender=False,
        description=(
            f"Up to NNSERVICE_MAX_PREDICT_ROWS (default {DEFAULT_MAX_PREDICT_ROWS}) people."
        ),
    )
    model_id = IdField(
        allow_none=True,
        load_default=None,
        metadata={"description": "A model by id; the latest when left out (and no alias)."},
    )
    alias = AliasField(
        allow_none=True,
        load_default=None,
        metadata={
            "description": "The alias whose model answers (not with model_id); `latest` when "
            "neither is given. A split alias picks a member by weight."
        },
    )
    routing_key = ma.fields.String(
        allow_none=True,
        load_default=None,
        validate=ma.validate.Length(max=1024),
        metadata={
            "description": "Any string (e.g. a user id): with a split alias, the same key always "
            "reaches the same model while the split is unchanged."
        },
    )
    units = UnitsField()
    explain = StrictBoolean(
        load_default=False,
        metadata={
            "description": "Also return, per row, each layer's weighted sums (z) and "
            "activations (a): the seed's h1, h2 and o1 for a 2-2-1 network."
        },
    )

    #: Fields of which a body gives at most one (stated in OpenAPI).
    AT_MOST_ONE = ("model_id", "alias")

    @ma.validates_schema(pass_original=True)
    def _model_or_alias(self, data: dict, original: Any, **_: Any) -> None:
        if isinstance(original, dict) and all(name in original for name in self.AT_MOST_ONE):
            message = "Give either model_id or alias, not both."
            raise ma.ValidationError({"model_id": [message], "alias": [message]})

    @ma.validates_schema
    def _one_shape(self, data: dict, **_: Any) -> None:
        single = [name for name in self.SHAPES[0] if name in data]
        if "instances" in data and single:
            message = "Give either weight and height, or instances, not both."
            raise ma.ValidationError({name: [message] for name in (*single, "instances")})
        if "instances" not in data and len(single) < 2:
            missing = {"weight", "height"} - set(single)
            raise ma.ValidationError(
                {name: ["Missing data for required field."] for name in missing}
            )

    @ma.post_load
    def _features(self, data: dict, **_: Any) -> dict:
        """Replace the input by X, ndarray of shape (n, 2) in lb and in."""
        units = data.pop("units")
        if "instances" in data:
            rows = data.pop("instances")
            max_rows = current_app.config["NNSERVICE_SETTINGS"].max_predict_rows
        else:
            rows = [{name: data.pop(name) for name in _ONE_PERSON}]
            max_rows = None
        try:
            columns = validate_json_rows(rows, units=units, with_gender=False, max_rows=max_rows)
        except RowValidationError as exc:
            # one person's errors name its fields; instances' name the row too
            errors = {"instances": exc.errors} if max_rows is not None else exc.errors["0"]
            raise ma.ValidationError(errors) from exc
        data["X"] = columns.features
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


class PredictResponseSchema(ma.Schema):
    model_id = ma.fields.String(required=True, metadata={"description": "The model that answered."})
    alias = ma.fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "The alias that chose it; null when model_id was given."},
    )
    predictions = ma.fields.List(ma.fields.Nested(PredictionSchema), required=True)
