"""Datasets: upload (JSON rows; CSV/TSV are parsed in service.dataset_parsing) and metadata."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from service.measurements import Columns, RowValidationError, check_both_classes, validate_json_rows
from service.schemas.fields import IdField, RowsField, UnitsField

MAX_NAME_LENGTH = 200


def load_labelled_rows(rows: Any, units: str) -> Columns:
    """JSON rows with gender -> columns; ValidationError under "rows" naming the row and field."""
    try:
        columns = validate_json_rows(rows, units=units, with_gender=True)
    except RowValidationError as exc:
        raise ma.ValidationError({"rows": exc.errors}) from exc
    problem = check_both_classes(columns.label)
    if problem:
        raise ma.ValidationError({"rows": [problem]})
    return columns


class DatasetCreateSchema(ma.Schema):
    """A dataset sent as JSON rows."""

    name = ma.fields.String(
        load_default="unnamed",
        validate=ma.validate.Length(min=1, max=MAX_NAME_LENGTH),
        metadata={"description": "A label for people; it does not change the dataset id."},
    )
    rows = RowsField(
        with_gender=True,
        required=True,
        description="People with weight, height and gender; both F and M must occur.",
    )
    units = UnitsField()

    @ma.post_load
    def _columns(self, data: dict, **_: Any) -> dict:
        data["columns"] = load_labelled_rows(data["rows"], data["units"])
        return data


class DatasetUploadQuerySchema(ma.Schema):
    """Query parameters of a CSV/TSV upload (a JSON body carries its own name and units)."""

    name = ma.fields.String(
        load_default="upload",
        validate=ma.validate.Length(min=1, max=MAX_NAME_LENGTH),
        metadata={"description": "Name of an uploaded file's dataset."},
    )
    units = UnitsField(metadata={"description": "metric: the file's columns are kg and cm."})


class CountsSchema(ma.Schema):
    F = ma.fields.Integer(required=True, metadata={"description": "Rows labelled female."})
    M = ma.fields.Integer(required=True, metadata={"description": "Rows labelled male."})


class DatasetSchema(ma.Schema):
    """A stored dataset's metadata; the id is derived from its rows."""

    id = IdField(required=True)
    name = ma.fields.String(required=True)
    rows = ma.fields.Integer(required=True)
    counts = ma.fields.Nested(CountsSchema, required=True)
    created_at = ma.fields.String(required=True, metadata={"format": "date-time"})
    message = ma.fields.String(
        metadata={
            "description": "Only in the answer to an upload of rows stored before: that the "
            "dataset exists, and under which name (the first upload's; the new one is not applied)."
        }
    )


class DatasetStoredBeforeSchema(DatasetSchema):
    """The answer to an upload of rows stored before: the stored dataset, name included, and a
    message saying so."""

    message = ma.fields.String(
        required=True,
        metadata={
            "description": "That the dataset exists, under which name, and whether the name sent "
            "was not applied."
        },
    )


class DatasetDetailSchema(DatasetSchema):
    """One dataset as GET /datasets/{id} shows it: its metadata and whether training can read
    its rows (checked on each such GET; listings do not check)."""

    status = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(["ok", "missing", "unreadable"]),
        metadata={
            "description": "ok: its rows can be read for training. missing: its stored rows are "
            "gone (uploading the same rows again restores them). unreadable: what is stored is "
            "not its rows."
        },
    )
    error = ma.fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "Why the rows cannot be read; null when status is ok."},
    )
