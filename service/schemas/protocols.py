"""Response schemas of the standard protocols (MLflow scoring, Open Inference Protocol v2), and
their request bodies as OpenAPI dicts (the views read the bodies themselves)."""

from __future__ import annotations

import marshmallow as ma

from neural.decision import THRESHOLD
from service import v2_binary
from service.inference_v2 import INPUT_NAME, NUMERIC_DATATYPES, OUTPUTS
from service.measurements import BOUNDS, HEIGHT_DESCRIPTION, WEIGHT_DESCRIPTION
from service.mlflow_scoring import FORMATS
from service.schemas.fields import either_or

#: The protocols carry pounds and inches.
_WEIGHT, _HEIGHT = (
    {"type": "number", "minimum": low, "maximum": high, "description": description}
    for (low, high), description in (
        (BOUNDS["imperial"]["weight"], WEIGHT_DESCRIPTION),
        (BOUNDS["imperial"]["height"], HEIGHT_DESCRIPTION),
    )
)
_ROW = {
    "type": "object",
    "description": "Other columns are ignored.",
    "properties": {"weight": _WEIGHT, "height": _HEIGHT},
    "required": ["weight", "height"],
}
_PAIR = {
    "type": "array",
    "items": {"type": "number"},
    "minItems": 2,
    "maxItems": 2,
    "description": "[weight (lb), height (in)], each in its range as in a row object.",
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
            "description": "Each row of data has one value a column: weight and height in "
            "their ranges; other columns are ignored.",
            "properties": {
                "columns": {
                    "type": "array",
                    "items": {"type": "string"},
                    "uniqueItems": True,
                    "allOf": [
                        {"not": {"items": {"not": {"enum": [name]}}}}
                        for name in ("weight", "height")
                    ],
                },
                "data": {"type": "array", "items": {"type": "array"}},
                "index": {"type": "array", "items": {}},
            },
            "required": ["columns", "data"],
        },
        "dataframe_records": {"type": "array", "minItems": 1, "items": _ROW},
        "instances": _ROWS,
        "inputs": {
            "oneOf": [
                _ROWS,
                {
                    "type": "object",
                    "description": "Columns of the same length; other columns are ignored.",
                    "properties": {
                        "weight": {"type": "array", "items": _WEIGHT},
                        "height": {"type": "array", "items": _HEIGHT},
                    },
                    "required": ["weight", "height"],
                },
            ]
        },
        "params": {"type": "object"},
    },
    "oneOf": either_or(tuple((name,) for name in FORMATS)),
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

_NUMBERS = {"type": "array", "items": {"type": "number"}}
_V2_PARAMETERS = {"type": "object", "description": "Other parameters are accepted and ignored."}
V2_INPUT = {
    "type": "object",
    "description": "The model's one input: n rows of [weight (lb), height (in)], row-major, as "
    'JSON "data" (flat [w, h, w, h, ...] or nested [[w, h], ...], 2n numbers) or as binary data '
    "after the JSON (binary_data_size bytes, little-endian, of the datatype).",
    "properties": {
        "name": {"type": "string", "enum": [INPUT_NAME]},
        "shape": {
            "type": "array",
            "items": {"type": "integer", "minimum": 1},
            "minItems": 2,
            "maxItems": 2,
            "description": "[n, 2]: n rows (1 to NNSERVICE_MAX_PREDICT_ROWS) of 2 values.",
        },
        "datatype": {"type": "string", "enum": list(NUMERIC_DATATYPES)},
        "parameters": {
            **_V2_PARAMETERS,
            "properties": {"binary_data_size": {"type": "integer", "minimum": 0}},
        },
        "data": {
            "oneOf": [
                {**_NUMBERS, "minItems": 2},
                {
                    "type": "array",
                    "minItems": 1,
                    "items": {**_NUMBERS, "minItems": 2, "maxItems": 2},
                },
            ]
        },
    },
    "required": ["name", "shape", "datatype"],
}
V2_REQUESTED_OUTPUT = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "enum": list(OUTPUTS)},
        "parameters": {
            **_V2_PARAMETERS,
            "properties": {"binary_data": {"type": "boolean"}},
        },
    },
    "required": ["name"],
}
V2_INFER_JSON = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "parameters": {
            **_V2_PARAMETERS,
            "properties": {"binary_data_output": {"type": "boolean"}},
        },
        "inputs": {"type": "array", "minItems": 1, "maxItems": 1, "items": V2_INPUT},
        "outputs": {"type": "array", "items": V2_REQUESTED_OUTPUT},
    },
    "required": ["inputs"],
    "example": {
        "inputs": [{"name": INPUT_NAME, "shape": [1, 2], "datatype": "FP64", "data": [128, 63]}]
    },
}
#: The JSON form of an inference request: one media type, as client generators need.
V2_INFER_BODY = {"required": True, "content": {"application/json": {"schema": V2_INFER_JSON}}}
#: The binary tensor data form, documented as its own operation (`.../infer/binary`); the infer
#: path itself takes it too, as Triton's clients send it there.
V2_INFER_BINARY_BODY = {
    "required": True,
    "content": {
        v2_binary.CONTENT_TYPE: {
            "schema": {
                "type": "string",
                "format": "binary",
                "description": "The binary tensor data extension: the JSON request "
                f"({v2_binary.HEADER} bytes), then the binary input.",
            }
        },
    },
}
V2_INFER_BINARY_HEADER = {
    "in": "header",
    "name": v2_binary.HEADER,
    "required": True,
    "schema": {"type": "integer", "minimum": 0},
    "description": "The length in bytes of the JSON at the start of the body.",
}
#: The answer's media types: JSON, or JSON then binary outputs (the binary extension).
V2_INFER_RESPONSE = {
    "content": {
        "application/octet-stream": {
            "schema": {
                "type": "string",
                "format": "binary",
                "description": f"The JSON answer ({v2_binary.HEADER} bytes), then the outputs "
                "asked for as binary data.",
            }
        }
    },
    "headers": {
        v2_binary.HEADER: {
            "description": "With binary outputs: the length of the JSON at the body's start.",
            "schema": {"type": "integer", "minimum": 0},
        }
    },
}
V2_REPOSITORY_INDEX_BODY = {
    "required": False,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {
                    "ready": {"type": "boolean", "description": "Only the READY versions."}
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
            f"(the network's output, o1 in the seed); {THRESHOLD:g} or more means F."
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
    data = ma.fields.List(ma.fields.Raw(), metadata={"description": "Unless sent as binary."})
    parameters = ma.fields.Dict(metadata={"description": "binary_data_size, when binary."})


class V2InferResponseSchema(ma.Schema):
    model_name = ma.fields.String(required=True)
    model_version = ma.fields.String(required=True, metadata={"description": "The model id."})
    id = ma.fields.String(
        required=True, metadata={"description": "The request's id, else its X-Request-ID."}
    )
    outputs = ma.fields.List(ma.fields.Nested(V2OutputTensorSchema), required=True)


class V2ConfigTensorSchema(ma.Schema):
    name = ma.fields.String(required=True)
    data_type = ma.fields.String(required=True, metadata={"example": "TYPE_FP64"})
    dims = ma.fields.List(ma.fields.Integer(), required=True)


class V2ModelConfigSchema(ma.Schema):
    """Triton's model configuration (what tritonclient's get_model_config reads)."""

    name = ma.fields.String(required=True)
    platform = ma.fields.String(required=True)
    backend = ma.fields.String(required=True)
    max_batch_size = ma.fields.Integer(required=True)
    version_policy = ma.fields.Dict(required=True)
    input = ma.fields.List(ma.fields.Nested(V2ConfigTensorSchema), required=True)
    output = ma.fields.List(ma.fields.Nested(V2ConfigTensorSchema), required=True)


class V2DurationSchema(ma.Schema):
    count = ma.fields.Integer(required=True)
    ns = ma.fields.Integer(required=True)


class V2InferenceStatsSchema(ma.Schema):
    success = ma.fields.Nested(V2DurationSchema, required=True)
    fail = ma.fields.Nested(V2DurationSchema, required=True)
    queue = ma.fields.Nested(V2DurationSchema, required=True)
    compute_input = ma.fields.Nested(V2DurationSchema, required=True)
    compute_infer = ma.fields.Nested(V2DurationSchema, required=True)
    compute_output = ma.fields.Nested(V2DurationSchema, required=True)


class V2ModelStatsSchema(ma.Schema):
    name = ma.fields.String(required=True)
    version = ma.fields.String(required=True)
    last_inference = ma.fields.Integer(required=True)
    inference_count = ma.fields.Integer(required=True)
    execution_count = ma.fields.Integer(required=True)
    inference_stats = ma.fields.Nested(V2InferenceStatsSchema, required=True)
    batch_stats = ma.fields.List(ma.fields.Dict(), required=True)


class V2StatisticsSchema(ma.Schema):
    """Triton's statistics extension answer: requests answered on the infer paths, counted over
    every API process and every version (success: 2xx and 3xx, fail: 4xx and 5xx)."""

    model_stats = ma.fields.List(ma.fields.Nested(V2ModelStatsSchema), required=True)


class V2RepositoryModelSchema(ma.Schema):
    name = ma.fields.String(required=True)
    version = ma.fields.String(required=True, metadata={"description": "A model id."})
    state = ma.fields.String(required=True, validate=ma.validate.OneOf(["READY", "UNAVAILABLE"]))
    reason = ma.fields.String(required=True)
