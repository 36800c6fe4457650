"""Model snapshots (format version 1) and their listing entries.

Import requests are checked for types here; the store then checks the meaning (shapes against
layer_sizes, scale > 0, ...) and names the field in its error.
"""

from __future__ import annotations

import json

import marshmallow as ma

from model_store.snapshots import FIXED_FIELDS, MIN_SCALE, PARAMETER_LIMIT
from neural.losses import LOSSES
from service.schemas.fields import ID_REGEX, IdField, StrictFloat, StrictInteger
from service.schemas.jobs import MetricsSchema

#: A weight, bias or mean: the store refuses larger magnitudes.
_PARAMETER = {"minimum": -PARAMETER_LIMIT, "maximum": PARAMETER_LIMIT}


def _fixed(name: str) -> dict:
    """The OpenAPI metadata of a field whose value is fixed in format version 1, stated without
    an array- or object-valued enum (which client generators cannot turn into a type): an
    object's every property is a one-value enum; an array's items are its values, each once
    (their order is in the description: OpenAPI 3.0 has no schema for a position)."""
    value = FIXED_FIELDS[name]
    description = f"Always {json.dumps(value)} in format version 1; may be left out."
    if isinstance(value, dict):
        schema: dict = {
            "type": "object",
            "properties": {key: {"type": "string", "enum": [item]} for key, item in value.items()},
            "required": list(value),
            "additionalProperties": False,
        }
    else:
        schema = {
            "type": "array",
            "items": {"type": "string", "enum": list(value)},
            "minItems": len(value),
            "maxItems": len(value),
            "uniqueItems": True,
        }
    return {**schema, "default": value, "description": description}


class NormalizationSchema(ma.Schema):
    mean = ma.fields.List(
        StrictFloat(metadata=_PARAMETER), required=True, validate=ma.validate.Length(equal=2)
    )
    scale = ma.fields.List(
        StrictFloat(metadata={"minimum": MIN_SCALE, "maximum": PARAMETER_LIMIT}),
        required=True,
        validate=ma.validate.Length(equal=2),
    )


#: The ids a snapshot's training record may name (checked by the store).
_TRAINING_IDS = {
    name: {"type": "string", "pattern": ID_REGEX, "nullable": True}
    for name in ("job_id", "dataset_id", "initial_model_id")
}


class SnapshotSchema(ma.Schema):
    """A trained network with everything needed to predict and to know where it came from."""

    format_version = StrictInteger(validate=ma.validate.Equal(1), metadata={"default": 1})
    id = IdField(metadata={"description": "Kept on import when given; generated otherwise."})
    created_at = ma.fields.String()
    layer_sizes = ma.fields.List(
        StrictInteger(validate=ma.validate.Range(1, 64)),
        required=True,
        validate=ma.validate.Length(min=2, max=6),
        metadata={
            "description": "[2, hidden..., 1]: 2 inputs (weight, height), 1 output. weights "
            "and biases have the shapes these sizes give, and a given sha256 is the content's."
        },
    )
    activation = ma.fields.String(required=True, validate=ma.validate.OneOf(["sigmoid"]))
    loss = ma.fields.String(required=True, validate=ma.validate.OneOf(tuple(LOSSES)))
    weights = ma.fields.List(
        ma.fields.List(ma.fields.List(StrictFloat(metadata=_PARAMETER))),
        required=True,
        metadata={"description": "weights[l] has shape (layer_sizes[l+1], layer_sizes[l])."},
    )
    biases = ma.fields.List(
        ma.fields.List(StrictFloat(metadata=_PARAMETER)),
        required=True,
        metadata={"description": "biases[l] has length layer_sizes[l+1]."},
    )
    normalization = ma.fields.Nested(NormalizationSchema, required=True)
    # Raw: the document states the value (`_fixed`), the store checks it (a List or Dict field
    # would write its own items and additionalProperties over it).
    features = ma.fields.Raw(metadata=_fixed("features"))
    units = ma.fields.Raw(metadata=_fixed("units"))
    label = ma.fields.Raw(metadata=_fixed("label"))
    training = ma.fields.Dict(
        metadata={
            "description": "dataset_id, job_id, hyperparameters, seed, loss_history, ...",
            "properties": _TRAINING_IDS,
        }
    )
    sha256 = ma.fields.String(
        validate=ma.validate.Regexp("^[0-9a-f]{64}$"),
        metadata={"description": "On import, checked against the content when given."},
    )


class ModelSummarySchema(ma.Schema):
    """One entry of GET /models; a corrupt snapshot is listed with status "corrupt" and why."""

    id = ma.fields.String(required=True)
    created_at = ma.fields.String(required=True, allow_none=True)
    job_id = ma.fields.String(required=True, allow_none=True)
    dataset_id = ma.fields.String(required=True, allow_none=True)
    metrics = ma.fields.Nested(MetricsSchema, required=True)
    is_latest = ma.fields.Boolean(required=True)
    status = ma.fields.String(required=True, validate=ma.validate.OneOf(["ok", "corrupt"]))
    error = ma.fields.String(required=True, allow_none=True)
