"""Deleting a batch prediction: its record, its chunks and every object it wrote.

Three steps, each safe to cut short and to run twice (by two deletions at once, or by a later
one finishing a deletion that crashed):

1. one conditional UPDATE marks the ended batch (`BatchTable.mark_deleting`): from then on every
   reader answers as if it were gone (404), so no read looks for an object being removed, and no
   chunk is claimed (its batch has ended);
2. its objects are removed: the input copy of an upload (one object per chunk) and each chunk's
   results; their keys follow from the record, so nothing is listed (then their folder, on a
   local store);
3. its rows are removed.

A worker still scoring a chunk of a cancelled batch when it is deleted writes the chunk's object
and then finds the batch hidden (`BatchTable.is_shown`) and removes the object itself
(`worker.batch_scoring`): whichever of the two comes second removes it. Only a process killed
between its write and that look leaves an object that nothing names.
"""

from __future__ import annotations

import logging

from foundation.states import JobState
from model_store.batches import BatchTable, batch_folder, input_key, result_key
from model_store.objects import ObjectStore
from model_store.records import BatchRecord

log = logging.getLogger(__name__)


def batch_object_keys(record: BatchRecord) -> list[str]:
    """Every object the batch may have written: per chunk, its results and (for an upload)
    its input."""
    keys = [result_key(record.id, chunk) for chunk in range(record.chunks_total)]
    if record.dataset_id is None:
        keys += [input_key(record.id, chunk) for chunk in range(record.chunks_total)]
    return keys


def delete_batch(batches: BatchTable, objects: ObjectStore, batch_id: str) -> JobState | None:
    """Delete an ended batch with its objects (or finish a deletion cut short): None once
    deleted, else the state of the queued or running batch, which stays (cancel it first).
    NotFound if absent; a failed object removal leaves the batch marked for the next try."""
    record = batches.mark_deleting(batch_id)
    if not record.state.is_terminal:
        return record.state
    for key in batch_object_keys(record):
        objects.delete(key)
    objects.remove_empty_folder(batch_folder(record.id))
    batches.delete(record.id)
    return None


def delete_expired(
    batches: BatchTable, objects: ObjectStore, ended_before_us: int | None
) -> list[str]:
    """Delete the batches whose deletion was cut short and (unless `ended_before_us` is None)
    those that ended before it, a bounded number per call; the ids deleted."""
    deleted = []
    for batch_id in batches.expired(ended_before_us):
        if delete_batch(batches, objects, batch_id) is None:
            deleted.append(batch_id)
    return deleted
