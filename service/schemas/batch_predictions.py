"""Batch predictions: the request (a stored dataset, or a CSV/TSV upload with its options in the
query string), the 202 answer, and a batch as GET /batch-predictions/{id} shows it."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from foundation.limits import DEFAULT_BATCH_CHUNK_ROWS, MAX_BATCH_CHUNK_ROWS
from foundation.states import STATES
from service.schemas.fields import AliasField, IdField, StrictInteger, UnitsField
from service.schemas.paging import PageQuerySchema

MODEL_DESCRIPTION = "The model that scores every row; the alias's when left out."
ALIAS_DESCRIPTION = (
    "The alias whose model scores every row (not with model_id); `latest` when neither is given. "
    "Resolved once, when the batch is submitted: a split alias picks one of its members (by "
    "weight, with the batch's id as the routing key), and that model scores every row."
)
CHUNK_DESCRIPTION = (
    "Rows per chunk: each chunk is one task for the workers (they score chunks in parallel) and "
    "one object of results."
)


class _ModelChoice(ma.Schema):
    """model_id or alias (at most one) and the chunk size, common to both forms of request."""

    #: Fields of which a request gives at most one (stated in OpenAPI).
    AT_MOST_ONE = ("model_id", "alias")

    model_id = IdField(
        allow_none=True, load_default=None, metadata={"description": MODEL_DESCRIPTION}
    )
    alias = AliasField(
        allow_none=True, load_default=None, metadata={"description": ALIAS_DESCRIPTION}
    )
    chunk_rows = StrictInteger(
        load_default=DEFAULT_BATCH_CHUNK_ROWS,
        validate=ma.validate.Range(1, MAX_BATCH_CHUNK_ROWS),
        metadata={"description": CHUNK_DESCRIPTION},
    )

    @ma.validates_schema
    def _model_or_alias(self, data: dict, **_: Any) -> None:
        if all(data.get(name) is not None for name in self.AT_MOST_ONE):
            message = "Give either model_id or alias, not both."
            raise ma.ValidationError({"model_id": [message], "alias": [message]})


class BatchPredictionRequestSchema(_ModelChoice):
    """Score every row of a stored dataset (its genders give an accuracy)."""

    dataset_id = IdField(required=True, metadata={"description": "A dataset from POST /datasets."})


class BatchPredictionUploadQuerySchema(_ModelChoice):
    """The options of a CSV/TSV upload, in the query string (a JSON body carries its own)."""

    units = UnitsField(metadata={"description": "metric: the file's columns are kg and cm."})
    chunk_rows = ma.fields.Integer(
        load_default=DEFAULT_BATCH_CHUNK_ROWS,
        validate=ma.validate.Range(1, MAX_BATCH_CHUNK_ROWS),
        metadata={"description": CHUNK_DESCRIPTION},
    )


class BatchPredictionAcceptedSchema(ma.Schema):
    batch_prediction_id = ma.fields.String(required=True)
    status_url = ma.fields.String(required=True, metadata={"description": "GET it to follow."})
    result_url = ma.fields.String(
        required=True, metadata={"description": "GET it once succeeded: the results as CSV."}
    )
    model_id = ma.fields.String(required=True, metadata={"description": "The model that scores."})
    rows_total = ma.fields.Integer(required=True)


class _PredictedSchema(ma.Schema):
    F = ma.fields.Integer(required=True, metadata={"description": "Rows predicted F."})
    M = ma.fields.Integer(required=True, metadata={"description": "Rows predicted M."})


class ConfusionSchema(ma.Schema):
    """Rows by true gender, then by predicted gender."""

    F = ma.fields.Nested(_PredictedSchema, required=True, metadata={"description": "True F."})
    M = ma.fields.Nested(_PredictedSchema, required=True, metadata={"description": "True M."})


class BatchPredictionSchema(ma.Schema):
    """A batch prediction; state is queued, running, succeeded, failed or cancelled (as a job's)."""

    batch_prediction_id = ma.fields.String(attribute="id", dump_only=True, required=True)
    state = ma.fields.String(required=True, validate=ma.validate.OneOf(STATES))
    model_id = ma.fields.String(required=True, metadata={"description": "The model that scores."})
    alias = ma.fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "The alias that named the model; null when model_id was given."},
    )
    dataset_id = ma.fields.String(
        required=True, allow_none=True, metadata={"description": "Null for an uploaded file."}
    )
    rows_done = ma.fields.Integer(required=True)
    rows_total = ma.fields.Integer(required=True)
    chunks_done = ma.fields.Integer(required=True)
    chunks_total = ma.fields.Integer(required=True)
    chunk_rows = ma.fields.Integer(required=True)
    has_gender = ma.fields.Boolean(
        required=True, metadata={"description": "Whether the input gave each row's true gender."}
    )
    accuracy = ma.fields.Float(
        required=True,
        allow_none=True,
        metadata={
            "description": "Share of the rows done whose predicted gender is the true one; null "
            "without genders or before any row is done."
        },
    )
    confusion_matrix = ma.fields.Nested(
        ConfusionSchema,
        required=True,
        allow_none=True,
        metadata={"description": "Of the rows done; null without genders."},
    )
    error = ma.fields.String(required=True, allow_none=True)
    created_at = ma.fields.String(required=True)
    started_at = ma.fields.String(required=True, allow_none=True)
    finished_at = ma.fields.String(required=True, allow_none=True)
    result_url = ma.fields.String(required=True)

    @ma.pre_dump
    def _figures(self, record: Any, **_: Any) -> dict:
        """The record with its accuracy and confusion matrix (only with genders)."""
        values = {name: getattr(record, name) for name in record.__dataclass_fields__}
        confusion = record.confusion if record.has_gender else None
        right = record.confusion["F"]["F"] + record.confusion["M"]["M"]
        values["confusion_matrix"] = confusion
        values["accuracy"] = right / record.rows_done if confusion and record.rows_done else None
        values["result_url"] = f"/batch-predictions/{record.id}/result"
        return values


class BatchPredictionListQuerySchema(PageQuerySchema):
    state = ma.fields.String(load_default=None, validate=ma.validate.OneOf(STATES))
