"""Response schemas of the standard protocols (MLflow scoring, Open Inference Protocol v2), and
their request bodies as OpenAPI dicts (the views read the bodies themselves)."""

from __future__ import annotations

import marshmallow as ma

from service.measurements import HEIGHT_DESCRIPTION, WEIGHT_DESCRIPTION

_ROW = {
    "type": "object",
    "properties": {
        "weight": {"type": "number", "description": WEIGHT_DESCRIPTION},
        "height": {"type": "number", "description": HEIGHT_DESCRIPTION},
    },
    "required": ["weight", "height"],
}
_PAIR = {
    "type": "array",
    "items": {"type": "number"},
    "minItems": 2,
    "maxItems": 2,
    "description": "[weight (lb), height (in)]",
}
_ROWS = {"type": "array", "items": {"oneOf": [_ROW, _PAIR]}}

#: The four JSON shapes of `mlflow models serve` (exactly one key per request).
MLFLOW_JSON_BODY = {
    "type": "object",
    "description": "Exactly one of dataframe_split, dataframe_records, instances, inputs "
    "(weight in lb, height in in). params is accepted and ignored.",
    "properties": {
        "dataframe_split": {
            "type": "object",
            "properties": {
                "columns": {"type": "array", "items": {"type": "string"}},
                "data": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}},
                "index": {"type": "array", "items": {}},
            },
            "required": ["columns", "data"],
        },
        "dataframe_records": {"type": "array", "items": _ROW},
        "instances": _ROWS,
        "inputs": {
            "oneOf": [
                _ROWS,
                {
                    "type": "object",
                    "properties": {
                        "weight": {"type": "array", "items": {"type": "number"}},
                        "height": {"type": "array", "items": {"type": "number"}},
                    },
                    "required": ["weight", "height"],
                },
            ]
        },
        "params": {"type": "object"},
    },
    "example": {"dataframe_split": {"columns": ["weight", "height"], "data": [[128, 63]]}},
}
MLFLOW_REQUEST_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": MLFLOW_JSON_BODY},
        "text/csv": {
            "schema": {"type": "string", "description": "A header row, then one row a person."},
            "example": "weight,height\n128,63\n155,68\n",
        },
    },
}

V2_INFER_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "parameters": {"type": "object"},
                    "inputs": {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": 1,
                        "items": {
                            "type": "object",
                            "properties": {
                                "name": {"type": "string", "example": "features"},
                                "shape": {
                                    "type": "array",
                                    "items": {"type": "integer"},
                                    "description": "[n, 2]",
                                },
                                "datatype": {"type": "string", "example": "FP64"},
                                "parameters": {"type": "object"},
                                "data": {
                                    "type": "array",
                                    "items": {},
                                    "description": "n x [weight (lb), height (in)], row-major: "
                                    "flat [w, h, w, h, ...] or nested [[w, h], ...].",
                                },
                            },
                            "required": ["name", "shape", "datatype", "data"],
                        },
                    },
                    "outputs": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "name": {"type": "string", "enum": ["probability_female", "gender"]}
                            },
                            "required": ["name"],
                        },
                    },
                },
                "required": ["inputs"],
                "example": {
                    "inputs": [
                        {"name": "features", "shape": [1, 2], "datatype": "FP64", "data": [128, 63]}
                    ]
                },
            }
        }
    },
}


class MlflowPredictionsSchema(ma.Schema):
    predictions = ma.fields.List(
        ma.fields.Float(),
        required=True,
        metadata={
            "description": "One number a row: the probability that the person is female "
            "(the network's output, o1 in the seed); 0.5 or more means F."
        },
    )


class MlflowErrorSchema(ma.Schema):
    error_code = ma.fields.String(required=True, metadata={"example": "BAD_REQUEST"})
    message = ma.fields.String(required=True)


class MlflowPingSchema(ma.Schema):
    status = ma.fields.String(required=True, metadata={"example": "ok"})
    model_id = ma.fields.String(required=True, metadata={"description": "The model served."})


class V2ErrorSchema(ma.Schema):
    error = ma.fields.String(required=True)


class V2LiveSchema(ma.Schema):
    live = ma.fields.Boolean(required=True)


class V2ReadySchema(ma.Schema):
    ready = ma.fields.Boolean(required=True)


class V2ModelReadySchema(ma.Schema):
    name = ma.fields.String(required=True)
    ready = ma.fields.Boolean(required=True)


class V2ServerMetadataSchema(ma.Schema):
    name = ma.fields.String(required=True)
    version = ma.fields.String(required=True)
    extensions = ma.fields.List(ma.fields.String(), required=True)


class V2TensorMetadataSchema(ma.Schema):
    name = ma.fields.String(required=True)
    datatype = ma.fields.String(required=True)
    shape = ma.fields.List(ma.fields.Integer(), required=True)


class V2ModelMetadataSchema(ma.Schema):
    name = ma.fields.String(required=True)
    versions = ma.fields.List(ma.fields.String(), metadata={"description": "Model ids."})
    platform = ma.fields.String(required=True)
    inputs = ma.fields.List(ma.fields.Nested(V2TensorMetadataSchema), required=True)
    outputs = ma.fields.List(ma.fields.Nested(V2TensorMetadataSchema), required=True)


class V2OutputTensorSchema(ma.Schema):
    name = ma.fields.String(required=True)
    shape = ma.fields.List(ma.fields.Integer(), required=True)
    datatype = ma.fields.String(required=True)
    data = ma.fields.List(ma.fields.Raw(), required=True)


class V2InferResponseSchema(ma.Schema):
    model_name = ma.fields.String(required=True)
    model_version = ma.fields.String(required=True, metadata={"description": "The model id."})
    id = ma.fields.String(
        required=True, metadata={"description": "The request's id, else its X-Request-ID."}
    )
    outputs = ma.fields.List(ma.fields.Nested(V2OutputTensorSchema), required=True)
