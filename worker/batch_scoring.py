"""Score one chunk of a batch prediction: the plain function behind the chunk task.

`score_chunk(store, batch_id, chunk, settings)` needs no Celery, so tests call it directly. It
claims the chunk (a lease, as a training job's), reads its rows (a slice of the stored dataset,
or the chunk's own input object of an upload), runs the same forward pass and decision rule as
/predict (`TrainedModel.predict_proba`, `neural.decision.decide`), writes the chunk's CSV lines
create-only under `result_key` and then marks the chunk done, which adds its rows and confusion
counts to the batch once. A delivery of a chunk that is done, being scored by a live worker, or
of a batch that has ended is dropped. A lost attempt's object, if it was written, holds the very
same bytes (the scoring is deterministic), so the next attempt finds it and only marks the chunk.
A chunk whose batch was deleted while it was being scored (a cancelled batch's chunk finishes)
removes the object it wrote: the deletion may have removed the batch's objects before it.
"""

from __future__ import annotations

import functools
import logging

import numpy as np

from foundation.settings import Settings
from model_store import ModelStore, NotFound
from model_store.batches import decode_rows, input_key, result_key
from model_store.outages import is_outage
from model_store.records import BatchRecord, ChunkRecord
from model_store.trained_model import TrainedModel
from neural.decision import decide
from worker.training_job import lease_seconds, this_worker

logger = logging.getLogger(__name__)

#: The gender each decision and label stands for (label 1.0 and a positive decision: F).
FEMALE, MALE = "F", "M"


@functools.lru_cache(maxsize=4)
def _model(store: ModelStore, model_id: str) -> TrainedModel:
    """The model, loaded once per process (a model id's snapshot never changes)."""
    return store.models.load(model_id)


@functools.lru_cache(maxsize=1)
def _dataset(store: ModelStore, dataset_id: str) -> tuple[np.ndarray, np.ndarray]:
    """A dataset's (features, labels), read once per process for all of its chunks."""
    dataset = store.datasets.load(dataset_id)
    return dataset.X, dataset.y


def chunk_rows(
    store: ModelStore, batch: BatchRecord, chunk: ChunkRecord
) -> tuple[np.ndarray, np.ndarray | None]:
    """The chunk's (features (n, 2) in lb and in, labels (1.0 = F) or None)."""
    if batch.dataset_id is not None:
        features, labels = _dataset(store, batch.dataset_id)
        rows = slice(chunk.first_row, chunk.first_row + chunk.rows)
        return features[rows], labels[rows]
    key = input_key(batch.id, chunk.chunk)
    return decode_rows(key, store.objects.get(key))


def result_lines(
    features: np.ndarray, probabilities: np.ndarray, labels: np.ndarray | None
) -> tuple[bytes, dict[tuple[str, str], int]]:
    """The chunk's CSV lines (`weight,height,probability_female,gender[,true_gender]`, floats
    written as Python's repr, which reads back to the same float, as JSON's do) and its
    confusion counts {(true, predicted): rows} (empty without labels)."""
    predicted = np.where(decide(probabilities), FEMALE, MALE).tolist()
    columns = [features[:, 0].tolist(), features[:, 1].tolist(), probabilities.tolist(), predicted]
    confusion: dict[tuple[str, str], int] = {}
    if labels is not None:
        truth = np.where(labels == 1.0, FEMALE, MALE)
        columns.append(truth.tolist())
        for true in (FEMALE, MALE):
            for guess in (FEMALE, MALE):
                both = (truth == true) & (np.asarray(predicted) == guess)
                confusion[(true, guess)] = int(np.count_nonzero(both))
    text = "".join(",".join(map(str, row)) + "\n" for row in zip(*columns, strict=True))
    return text.encode(), confusion


def save_result(
    store: ModelStore,
    batch_id: str,
    chunk: int,
    text: bytes,
    confusion: dict[tuple[str, str], int],
) -> str:
    """Write the chunk's results create-only and mark it done: "succeeded", or "deleted" if
    its batch is being (or was) deleted, whose object this removes again (a deletion that ran
    before the write could not)."""
    key = result_key(batch_id, chunk)
    if not store.objects.create(key, text):
        logger.warning(
            "batch %s chunk %s: its results were written by a lost attempt", batch_id, chunk
        )
    store.batches.finish_chunk(batch_id, chunk, confusion)
    if not store.batches.is_shown(batch_id):
        store.objects.delete(key)
        logger.info("batch %s was deleted while chunk %s was scored", batch_id, chunk)
        return "deleted"
    return "succeeded"


def score_chunk(store: ModelStore, batch_id: str, chunk: int, settings: Settings) -> str:
    """Score chunk `chunk` of batch `batch_id`; the outcome.

    "succeeded" (scored now), "done" (scored before), "busy" (a live worker has it), "ended"
    (its batch was cancelled or failed), "missing", "deleted" (its batch was deleted while it
    was scored: nothing is kept), "gave_up" (it lost too many workers: the batch failed),
    "failed" (scoring failed: the batch failed, naming the chunk and why) or "released" (the
    store was unreachable: the chunk is queued again for the reaper to re-send).
    """
    owner = this_worker()
    lease = lease_seconds(settings.visibility_timeout)
    try:
        taken = store.batches.claim_chunk(batch_id, chunk, owner, lease, settings.max_attempts)
    except NotFound:
        logger.warning("batch %s has no chunk %s; nothing to do", batch_id, chunk)
        return "missing"
    if taken.outcome != "claimed":
        logger.info("batch %s chunk %s: %s; dropping this delivery", batch_id, chunk, taken.outcome)
        return taken.outcome
    try:
        features, labels = chunk_rows(store, taken.batch, taken.chunk)
        probabilities = _model(store, taken.batch.model_id).predict_proba(features)
        text, confusion = result_lines(features, probabilities, labels)
        return save_result(store, batch_id, chunk, text, confusion)
    except Exception as error:  # every failure ends in a state the reaper or the client sees
        if is_outage(error):
            logger.warning(
                "batch %s chunk %s: the store is unreachable (%s)", batch_id, chunk, error
            )
            try:
                store.batches.release_chunk(batch_id, chunk, owner)
            except Exception:  # noqa: BLE001 - still down: the reaper requeues it after its lease
                logger.warning("batch %s chunk %s: left to the reaper", batch_id, chunk)
            return "released"
        if not store.batches.is_shown(batch_id):  # deleted under it: its input is gone
            logger.info("batch %s was deleted while chunk %s was scored", batch_id, chunk)
            return "deleted"
        logger.exception("batch %s chunk %s failed", batch_id, chunk)
        store.batches.fail(batch_id, f"scoring chunk {chunk} failed: {error}")
        return "failed"
