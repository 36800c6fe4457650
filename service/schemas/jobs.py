"""Training jobs as GET /jobs and GET /jobs/{id} show them (the job record in the store)."""

from __future__ import annotations

import marshmallow as ma

from foundation.promotion import IF_BETTER
from foundation.states import STATES


class ProgressSchema(ma.Schema):
    epoch = ma.fields.Integer(required=True, metadata={"description": "Epochs done."})
    epochs = ma.fields.Integer(required=True, allow_none=True)
    loss = ma.fields.Float(required=True, allow_none=True)
    validation_loss = ma.fields.Float(
        allow_none=True,
        metadata={"description": "Loss on the held-out rows; null without a validation split."},
    )


class MetricsSchema(ma.Schema):
    train_accuracy = ma.fields.Float(required=True, allow_none=True)
    validation_accuracy = ma.fields.Float(required=True, allow_none=True)


class PromotionSchema(ma.Schema):
    """Whether the job's model was promoted: to which alias, or why not."""

    promoted = ma.fields.Boolean(required=True)
    alias = ma.fields.String(metadata={"description": "The alias moved (when promoted)."})
    reason = ma.fields.String(metadata={"description": "Why not (when not promoted)."})


class JobSchema(ma.Schema):
    """A training job; state is queued, running, succeeded, failed or cancelled."""

    job_id = ma.fields.String(
        attribute="id",
        dump_only=True,  # read from the record's id (a loaded field could not share it)
        required=True,
        metadata={"description": "The job's id, named as in POST /train and the event stream."},
    )
    id = ma.fields.String(
        required=True,
        metadata={
            "description": "Deprecated: the same as job_id, kept for older clients.",
            "deprecated": True,
        },
    )
    state = ma.fields.String(required=True, validate=ma.validate.OneOf(STATES))
    progress = ma.fields.Nested(ProgressSchema, required=True)
    loss_history = ma.fields.List(ma.fields.Float(), required=True)
    model_id = ma.fields.String(required=True, allow_none=True)
    metrics = ma.fields.Nested(MetricsSchema, required=True)
    error = ma.fields.String(required=True, allow_none=True)
    created_at = ma.fields.String(required=True)
    started_at = ma.fields.String(required=True, allow_none=True)
    finished_at = ma.fields.String(required=True, allow_none=True)
    dataset_id = ma.fields.String(allow_none=True)
    hyperparameters = ma.fields.Dict()
    initial_model_id = ma.fields.String(allow_none=True)
    promote = ma.fields.Raw(
        metadata={
            "description": 'What the job was asked: true, false or "if_better".',
            "oneOf": [{"type": "boolean"}, {"type": "string", "enum": [IF_BETTER]}],
        }
    )
    promote_alias = ma.fields.String(metadata={"description": "The alias the job may move."})
    promotion = ma.fields.Nested(
        PromotionSchema,
        allow_none=True,
        metadata={"description": "The promotion gate's decision; null until the job succeeds."},
    )
    attempts = ma.fields.Integer()
    sweep_id = ma.fields.String(
        allow_none=True, metadata={"description": "The sweep this job is a trial of (or null)."}
    )
    trial_number = ma.fields.Integer(allow_none=True)
    pruned = ma.fields.Boolean(
        metadata={"description": "A sweep's pruner stopped the trial early (it succeeded)."}
    )
    stopped_epoch = ma.fields.Integer(
        dump_only=True,
        allow_none=True,
        metadata={
            "description": "The epoch after which early stopping ended the job; null if it "
            "trained every epoch (or without early stopping)."
        },
    )
    best_epoch = ma.fields.Integer(
        dump_only=True,
        allow_none=True,
        metadata={
            "description": "With early stopping, the epoch of the lowest validation loss, whose "
            "weights the model keeps (its metrics are of those); null without."
        },
    )


class JobDeleteQuerySchema(ma.Schema):
    """DELETE /jobs/{id}: cancel it, or with `purge=true` remove a finished job's record."""

    purge = ma.fields.Boolean(
        load_default=False,
        truthy={"true"},
        falsy={"false"},
        metadata={
            "description": "Remove the record (and checkpoint) of a finished job instead of "
            "cancelling: 204, or 409 if the job has not finished."
        },
    )
