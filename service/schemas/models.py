"""Model snapshots (format version 1) and their listing entries.

Import requests are checked for types here; the store then checks the meaning (shapes against
layer_sizes, scale > 0, ...) and names the field in its error.
"""

from __future__ import annotations

import marshmallow as ma

from service.schemas.fields import IdField, StrictFloat, StrictInteger
from service.schemas.jobs import MetricsSchema

_VECTOR = ma.fields.List(StrictFloat())


class NormalizationSchema(ma.Schema):
    mean = ma.fields.List(StrictFloat(), required=True, validate=ma.validate.Length(equal=2))
    scale = ma.fields.List(StrictFloat(), required=True, validate=ma.validate.Length(equal=2))


class SnapshotSchema(ma.Schema):
    """A trained network with everything needed to predict and to know where it came from."""

    format_version = StrictInteger(validate=ma.validate.Equal(1), metadata={"default": 1})
    id = IdField(metadata={"description": "Kept on import when given; generated otherwise."})
    created_at = ma.fields.String()
    layer_sizes = ma.fields.List(
        StrictInteger(validate=ma.validate.Range(1, 64)),
        required=True,
        validate=ma.validate.Length(min=2, max=6),
        metadata={"description": "[2, hidden..., 1]"},
    )
    activation = ma.fields.String(required=True, validate=ma.validate.OneOf(["sigmoid"]))
    loss = ma.fields.String(required=True, validate=ma.validate.OneOf(["mse", "log_loss"]))
    weights = ma.fields.List(
        ma.fields.List(ma.fields.List(StrictFloat())),
        required=True,
        metadata={"description": "weights[l] has shape (layer_sizes[l+1], layer_sizes[l])."},
    )
    biases = ma.fields.List(
        ma.fields.List(StrictFloat()),
        required=True,
        metadata={"description": "biases[l] has length layer_sizes[l+1]."},
    )
    normalization = ma.fields.Nested(NormalizationSchema, required=True)
    features = ma.fields.List(ma.fields.String(), metadata={"example": ["weight", "height"]})
    units = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.String(), metadata={"example": {"weight": "lb"}}
    )
    label = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String())
    training = ma.fields.Dict(
        metadata={"description": "dataset_id, job_id, hyperparameters, seed, loss_history, ..."}
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
