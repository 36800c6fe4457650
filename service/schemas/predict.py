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
from service.schemas.fields import (
    AliasField,
    ColumnsField,
    IdField,
    RowsField,
    StrictBoolean,
    UnitsField,
)

#: A one-person body's fields, checked by the row validator like a row of `instances`.
_ONE_PERSON = ("weight", "height")


_ROWS = f"Up to NNSERVICE_MAX_PREDICT_ROWS (default {DEFAULT_MAX_PREDICT_ROWS}) people"


class PredictRequestSchema(ma.Schema):
    """Weight and height, or instances (objects or pairs), or inputs (columns); optionally a
    model_id."""

    #: The shapes of a request: exactly one of these sets of fields (stated in OpenAPI).
    SHAPES = (("weight", "height"), ("instances",), ("inputs",))
    #: Every field takes an integer and a float of the same value alike (weight and height are
    #: numbers checked against a range; no other field takes a number), so the body may be
    #: parsed the fast way (`service.api.loads_json`).
    NUMBERS_ALIKE = True

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

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        #: What `load` gives each field a body leaves out (the fields' own load_default).
        self._defaults = {
            name: field.load_default
            for name, field in self.fields.items()
            if field.load_default is not ma.missing
        }
        constant = not any(callable(value) for value in self._defaults.values())
        #: The bodies `load` takes the short way (none, if a default must be made per request).
        self._shapes = frozenset(frozenset(shape) for shape in self.SHAPES if constant)

    def load(self, data: Any, *, many: Any = None, partial: Any = None, unknown: Any = None) -> Any:
        """marshmallow's `load`, which a body of exactly one shape's fields, none of them null
        (the usual request), skips: for such a body marshmallow would change nothing. Each of
        those fields is a Raw field that hands its value on as it is; every other field takes
        its default; the schema's checks (one shape, not both model_id and alias) pass by
        construction. So the rows go straight to `_features` (the columnar row validators)
        with the same data, and its errors are raised as marshmallow raises them."""
        fast = (
            not (many or partial or self.many or self.partial)
            and type(data) is dict
            and frozenset(data) in self._shapes
            and None not in data.values()
        )
        if not fast:
            return super().load(data, many=many, partial=partial, unknown=unknown)
        try:
            return self._features({**self._defaults, **data})
        except ma.ValidationError as error:
            raise ma.ValidationError(error.normalized_messages(), data=data) from error

    @ma.validates_schema(pass_original=True)
    def _model_or_alias(self, data: dict, original: Any, **_: Any) -> None:
        if isinstance(original, dict) and all(name in original for name in self.AT_MOST_ONE):
            message = "Give either model_id or alias, not both."
            raise ma.ValidationError({"model_id": [message], "alias": [message]})

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
    model_id = ma.fields.String(required=True, metadata={"description": "The model that answered."})
    alias = ma.fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "The alias that chose it; null when model_id was given."},
    )
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
