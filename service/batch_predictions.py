"""Submitting, cancelling and reading out batch predictions: the work behind /batch-predictions.

A submission resolves the model once (a model id, or the alias's model: a split alias picks one
member, with the batch's id as routing key), so every row is scored by that one recorded model.
An upload is parsed a block of `chunk_rows` rows at a time from the request's stream, each block
stored create-only as the chunk's input object before the next is read; a stored dataset's rows
are read by the workers themselves. Then the batch's rows are written (blobs before the rows that
name them) and one task per chunk is sent; if the broker cannot take them, the batch is removed
again and the client gets 503, as for a training job.

The result is the chunks' objects in order after one header line, streamed a piece at a time.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from typing import BinaryIO

from foundation.states import JobState
from model_store import BatchRecord
from model_store.batches import encode_rows, input_key, result_key
from model_store.errors import NotFound
from model_store.models import LATEST
from service.api import abort, abort_unknown_reference
from service.context import Services
from service.dataset_parsing import TableError, read_table_blocks
from service.prediction import model_or_abort
from worker.names import BATCH_CHUNK_TASK, chunk_task_id

log = logging.getLogger(__name__)

#: The result's columns; `true_gender` only when the input gave genders.
RESULT_COLUMNS = ("weight", "height", "probability_female", "gender")
TRUE_GENDER = "true_gender"


def new_batch_id() -> str:
    """A fresh batch id: `bp-` and 32 hex characters."""
    return f"bp-{uuid.uuid4().hex}"


def _resolve_model(svc: Services, batch_id: str, options: dict) -> tuple[str, str | None]:
    """(model id, alias used or None) of the model that scores the batch; 404/409/503 naming
    the field as /predict answers them."""
    alias = None if options["model_id"] is not None else options["alias"] or LATEST
    model = model_or_abort(svc.models, options["model_id"], alias, batch_id)
    return model.model_id, alias


def _store_upload(
    svc: Services, batch_id: str, stream: BinaryIO, content_type: str, options: dict
) -> tuple[int, bool]:
    """Parse the upload block by block into the chunks' input objects; (rows, has_gender).
    422 naming the line (every object written is removed again)."""
    written: list[str] = []
    rows, has_gender = 0, False
    try:
        blocks = read_table_blocks(stream, content_type, options["units"], options["chunk_rows"])
        for number, columns in enumerate(blocks):
            if not len(columns):
                break
            key = input_key(batch_id, number)
            svc.store.objects.create(key, encode_rows(columns.features, columns.label))
            written.append(key)
            rows += len(columns)
            has_gender = columns.label is not None
    except TableError as exc:
        _remove(svc, written)
        abort(422, message=str(exc), errors={"file": exc.errors})
    except BaseException:
        _remove(svc, written)
        raise
    if rows == 0:
        message = "The file has no rows."
        abort(422, message="the file has no rows", errors={"file": [message]})
    return rows, has_gender


def _remove(svc: Services, keys: list[str]) -> None:
    """Delete the objects of a batch that was not created (best effort)."""
    for key in keys:
        try:
            svc.store.objects.delete(key)
        except Exception as exc:  # noqa: BLE001 - garbage at worst: nothing names it
            log.warning("could not remove %s: %s", key, exc)


def submit_batch(
    svc: Services, options: dict, upload: tuple[BinaryIO, str] | None = None
) -> BatchRecord:
    """Create the batch (from `options["dataset_id"]`, or the `upload`'s (stream, content type))
    and send one task per chunk; returns its record (state "queued")."""
    batch_id = new_batch_id()
    dataset_id = options.get("dataset_id")
    if upload is None:
        try:
            rows, has_gender = svc.store.datasets.get(dataset_id).rows, True
        except NotFound:
            abort_unknown_reference(
                "dataset_id", "dataset", dataset_id, " Upload it: POST /datasets."
            )
    model_id, alias = _resolve_model(svc, batch_id, options)
    if upload is not None:
        rows, has_gender = _store_upload(svc, batch_id, *upload, options)
    record = svc.store.batches.create(
        {
            "id": batch_id,
            "model_id": model_id,
            "alias": alias,
            "dataset_id": dataset_id,
            "has_gender": has_gender,
            "rows_total": rows,
        },
        options["chunk_rows"],
    )
    try:
        for chunk in range(record.chunks_total):
            svc.celery.send_task(
                BATCH_CHUNK_TASK,
                kwargs={"batch_id": batch_id, "chunk": chunk},
                task_id=chunk_task_id(batch_id, chunk),
            )
    except Exception as exc:  # whatever stopped the publish, the batch cannot run: undo it
        log.warning("could not queue batch prediction %s: %s", batch_id, exc)
        svc.store.batches.delete(batch_id)
        if upload is not None:
            _remove(svc, [input_key(batch_id, chunk) for chunk in range(record.chunks_total)])
        abort(
            503,
            message=f"the task queue (Redis) is unreachable, the batch was not created: {exc}",
            errors={"broker": [str(exc)]},
        )
    return record


def cancel_batch(svc: Services, batch_id: str) -> BatchRecord:
    """Cancel a queued or running batch (chunks being scored finish, no other starts); 409
    naming its state once it has ended."""
    cancelled = svc.store.batches.cancel(batch_id)
    if cancelled is not None:
        return cancelled
    state = svc.store.batches.get(batch_id).state
    abort(
        409,
        message=f"batch prediction {batch_id} has already finished ({state})",
        errors={
            "state": [f"Only queued or running batches can be cancelled; this one is {state}."]
        },
    )


def delete_batch(svc: Services, batch_id: str) -> None:
    """Delete an ended batch, its record and every object it wrote; 409 naming the state of a
    queued or running one (cancel it first, as a job is cancelled before it is purged)."""
    state = svc.store.delete_batch(batch_id)
    if state is None:
        return
    abort(
        409,
        message=f"batch prediction {batch_id} has not finished ({state}); cancel it first",
        errors={"state": [f"Only finished batches can be deleted; this one is {state}."]},
    )


def result_header(record: BatchRecord) -> bytes:
    """The result's first line: its columns, `true_gender` last when the input had genders."""
    columns = RESULT_COLUMNS + ((TRUE_GENDER,) if record.has_gender else ())
    return (",".join(columns) + "\n").encode()


def finished_batch(svc: Services, batch_id: str) -> BatchRecord:
    """The batch if it has succeeded; 409 naming its state otherwise."""
    record = svc.store.batches.get(batch_id)
    if record.state != JobState.SUCCEEDED:
        message = (
            f"batch prediction {batch_id} is {record.state}: "
            "its result is complete only once it has succeeded"
        )
        abort(409, message=message, errors={"state": [message]})
    return record


def result_pieces(svc: Services, record: BatchRecord) -> Iterator[bytes]:
    """The result CSV: the header, then each chunk's object in order, a piece at a time."""
    yield result_header(record)
    for chunk in range(record.chunks_total):
        yield from svc.store.objects.stream(result_key(record.id, chunk))
