"""POST /train: which data, which hyperparameters (`foundation.hyperparameters`)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from foundation import hyperparameters as hp
from service.schemas.datasets import load_labelled_rows
from service.schemas.fields import (
    IdField,
    RowsField,
    StrictBoolean,
    StrictFloat,
    StrictInteger,
    UnitsField,
)

DEFAULT_HYPERPARAMETERS = hp.DEFAULTS
MAX_SEED = hp.MAX_SEED


def _doc(name: str, description: str) -> dict:
    return {"description": description, "default": DEFAULT_HYPERPARAMETERS[name]}


_LEARNING_RATE = ma.validate.Range(*hp.LEARNING_RATE, min_inclusive=False)


class HyperparametersSchema(ma.Schema):
    """Training settings; any left out take their defaults, unknown names are refused."""

    hidden_layers = ma.fields.List(
        StrictInteger(validate=ma.validate.Range(*hp.NEURONS_PER_LAYER)),
        validate=ma.validate.Length(*hp.HIDDEN_LAYERS),
        metadata=_doc(
            "hidden_layers",
            "Neurons per hidden layer: {}-{} layers of {}-{}.".format(
                *hp.HIDDEN_LAYERS, *hp.NEURONS_PER_LAYER
            ),
        ),
    )
    epochs = StrictInteger(
        validate=ma.validate.Range(*hp.EPOCHS),
        metadata=_doc("epochs", "Passes over the training rows ({}-{}).".format(*hp.EPOCHS)),
    )
    learning_rate = StrictFloat(
        validate=_LEARNING_RATE,
        metadata={
            **_doc("learning_rate", "SGD step size, in ({:g}, {:g}].".format(*hp.LEARNING_RATE)),
            # apispec states the range's bounds but not that the minimum is excluded.
            "exclusiveMinimum": not _LEARNING_RATE.min_inclusive,
        },
    )
    batch_size = StrictInteger(
        validate=ma.validate.Range(*hp.BATCH_SIZE),
        metadata=_doc("batch_size", "Rows per update (1 is the seed's per-sample SGD)."),
    )
    loss = ma.fields.String(
        validate=ma.validate.OneOf(hp.LOSSES), metadata=_doc("loss", " or ".join(hp.LOSSES) + ".")
    )
    shuffle = StrictBoolean(metadata=_doc("shuffle", "Visit rows in a new order each epoch."))
    seed = StrictInteger(
        allow_none=True,
        validate=ma.validate.Range(0, MAX_SEED),
        metadata=_doc("seed", "0 to 2^32-1; null draws one, recorded in the job."),
    )
    validation_fraction = StrictFloat(
        validate=ma.validate.Range(*hp.VALIDATION_FRACTION),
        metadata=_doc(
            "validation_fraction",
            "Share of rows held out for validation ({:g}-{:g}).".format(*hp.VALIDATION_FRACTION),
        ),
    )
    normalization = ma.fields.String(
        validate=ma.validate.OneOf(hp.NORMALIZATIONS),
        metadata=_doc("normalization", "standard (mean/std of the training rows) or none."),
    )


class TrainRequestSchema(ma.Schema):
    """Train on a stored dataset (dataset_id) or on rows sent inline (exactly one of them)."""

    #: Exactly one of these (stated in OpenAPI).
    SHAPES = (("dataset_id",), ("rows",))

    dataset_id = IdField(metadata={"description": "A dataset from POST /datasets."})
    rows = RowsField(with_gender=True, description="Inline rows, stored as a dataset first.")
    units = UnitsField()
    hyperparameters = ma.fields.Nested(HyperparametersSchema, load_default=dict)
    initial_model_id = IdField(
        allow_none=True,
        load_default=None,
        metadata={"description": "Continue training from this model's weights."},
    )
    promote = StrictBoolean(
        load_default=True,
        metadata={"description": "Make the new model the latest when the job succeeds."},
    )

    @ma.validates_schema
    def _one_source(self, data: dict, **_: Any) -> None:
        if sum(all(name in data for name in shape) for shape in self.SHAPES) != 1:
            message = "Give exactly one of dataset_id or rows."
            raise ma.ValidationError({"dataset_id": [message], "rows": [message]})

    @ma.post_load
    def _columns(self, data: dict, **_: Any) -> dict:
        if "rows" in data:
            data["columns"] = load_labelled_rows(data.pop("rows"), data["units"])
        return data


class TrainAcceptedSchema(ma.Schema):
    job_id = ma.fields.String(required=True)
    status_url = ma.fields.String(required=True, metadata={"description": "GET it to follow."})
