"""Batch predictions in the store, on each backend: an object streamed in pieces; a chunk marked
done twice counts once; a lost chunk is requeued by the reaper, or fails its batch after the
last attempt; a model or dataset an unfinished batch needs cannot be deleted; deleting a batch
removes its record and every object (listed on the backend itself), is refused while it runs,
hides it at once when cut short and is finished later, leaves nothing from a chunk scored
meanwhile; retention deletes what ended before its cutoff; the rows-scored counter keeps
deleted batches' rows."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from stores import object_keys

from model_store import InUse, ModelStore, NotFound
from model_store.batch_deletion import delete_expired
from model_store.batches import batch_folder, input_key, result_key
from model_store.objects import LocalObjects
from model_store.times import from_iso
from worker.batch_scoring import save_result

SNAPSHOT = {
    "layer_sizes": [2, 2, 1],
    "activation": "sigmoid",
    "loss": "mse",
    "weights": [[[1.0, 0.5], [0.5, 1.0]], [[1.0, -1.0]]],
    "biases": [[0.0, 0.0], [0.0]],
    "normalization": {"mean": [135.0, 66.0], "scale": [1.0, 1.0]},
    "training": {},
}


def _batch(store: ModelStore, rows: int = 5, chunk_rows: int = 2, **extra: object):
    model_id = store.models.save(SNAPSHOT)["id"]
    record = {"id": f"bp-{time.time_ns()}", "model_id": model_id, "has_gender": True}
    return store.batches.create({**record, "rows_total": rows, **extra}, chunk_rows)


def test_an_object_streams_in_pieces(store: ModelStore) -> None:
    data = bytes(range(256)) * 1000
    assert store.objects.create("batch/x/chunk-0.csv", data)
    pieces = list(store.objects.stream("batch/x/chunk-0.csv", 10_000))
    assert b"".join(pieces) == data and max(map(len, pieces)) <= 10_000 and len(pieces) > 1
    with pytest.raises(NotFound):
        next(store.objects.stream("batch/x/missing.csv"))


def test_a_chunk_counts_once_and_the_last_one_ends_the_batch(store: ModelStore) -> None:
    batch = _batch(store)
    assert [c.rows for c in store.batches.chunks(batch.id)] == [2, 2, 1]
    for chunk in range(3):
        taken = store.batches.claim_chunk(batch.id, chunk, "w1", 30, 3)
        assert taken.outcome == "claimed" and taken.batch.state == "running"
        assert store.batches.finish_chunk(batch.id, chunk, {("F", "F"): 1, ("M", "F"): 1})
        assert not store.batches.finish_chunk(batch.id, chunk, {("F", "F"): 1})
        assert store.batches.claim_chunk(batch.id, chunk, "w2", 30, 3).outcome == "done"
    done = store.batches.get(batch.id)
    assert done.state == "succeeded" and done.rows_done == 5 and done.chunks_done == 3
    assert done.confusion == {"F": {"F": 3, "M": 0}, "M": {"F": 3, "M": 0}}
    assert result_key(batch.id, 2) == f"batch/{batch.id}/chunk-2.csv"


def test_a_lost_chunk_is_requeued_then_fails_its_batch(store: ModelStore) -> None:
    batch = _batch(store, rows=1)
    for attempt in (1, 2):
        assert store.batches.claim_chunk(batch.id, 0, f"w{attempt}", 30, 2).outcome == "claimed"
        assert store.batches.claim_chunk(batch.id, 0, "other", 30, 2).outcome == "busy"
        repairs = store.batches.reap(-1, 2, resend_after=3600)  # every lease has run out
        if attempt == 1:
            assert repairs.resend == [(batch.id, 0)]
    assert repairs.failed == [batch.id]
    failed = store.batches.get(batch.id)
    assert failed.state == "failed" and "chunk 0 was lost 2 times" in failed.error
    assert store.batches.claim_chunk(batch.id, 0, "w3", 30, 2).outcome == "ended"


def test_an_unfinished_batch_holds_its_model_and_dataset(store: ModelStore) -> None:
    info, _ = store.datasets.save("people", [130.0, 170.0], [64.0, 70.0], [1.0, 0.0])
    batch = _batch(store, dataset_id=info.id)
    with pytest.raises(InUse) as held:
        store.models.delete(batch.model_id)
    assert held.value.holders["batch_predictions"] == [batch.id]
    with pytest.raises(InUse):
        store.datasets.delete(info.id)
    assert store.batches.cancel(batch.id).state == "cancelled"
    assert store.batches.cancel(batch.id) is None
    store.datasets.delete(info.id)


def _scored_upload(store: ModelStore):
    """A cancelled upload batch of 5 rows in 3 chunks: its 3 input objects, chunk 0 scored
    (its result object written and marked done), the others never scored."""
    batch = _batch(store)
    for chunk in range(3):
        assert store.objects.create(input_key(batch.id, chunk), b"rows")
    assert store.batches.claim_chunk(batch.id, 0, "w1", 30, 3).outcome == "claimed"
    assert save_result(store, batch.id, 0, b"1,2,0.5,F\n", {}) == "succeeded"
    assert store.batches.cancel(batch.id).state == "cancelled"
    return batch


def test_deleting_a_batch_removes_its_record_chunks_and_objects(store: ModelStore) -> None:
    scored_before = store.batches.rows_scored()
    batch = _scored_upload(store)
    running = _batch(store, rows=1)
    assert store.batches.rows_scored() == scored_before + 2
    prefix = f"batch/{batch.id}/"
    assert object_keys(store, prefix) == sorted(
        [input_key(batch.id, n) for n in range(3)] + [result_key(batch.id, 0)]
    )

    assert store.delete_batch(running.id) == "queued"  # refused: cancel it first
    assert store.batches.get(running.id).state == "queued"
    assert store.delete_batch(batch.id) is None
    assert object_keys(store, prefix) == []
    if isinstance(store.objects, LocalObjects):  # not even an empty directory is left
        assert not (Path(store.objects.root) / batch_folder(batch.id)).exists()
    assert store.batches.chunks(batch.id) == []
    with pytest.raises(NotFound):
        store.batches.get(batch.id)
    with pytest.raises(NotFound):
        store.delete_batch(batch.id)
    assert [b.id for b in store.batches.list().items] == [running.id]
    assert store.batches.rows_scored() == scored_before + 2  # a counter: deleting keeps it


def test_a_deletion_cut_short_hides_the_batch_and_is_finished_later(store: ModelStore) -> None:
    batch = _scored_upload(store)
    assert store.batches.mark_deleting(batch.id).id == batch.id  # then the process died
    assert object_keys(store, f"batch/{batch.id}/")  # its objects are still there, unnamed
    with pytest.raises(NotFound):
        store.batches.get(batch.id)
    assert store.batches.list().items == []
    assert not store.batches.is_shown(batch.id)  # what a worker looks at

    assert delete_expired(store.batches, store.objects, None) == [batch.id]
    assert object_keys(store, f"batch/{batch.id}/") == []
    assert delete_expired(store.batches, store.objects, None) == []


def test_a_chunk_scored_while_its_batch_is_deleted_leaves_no_object(store: ModelStore) -> None:
    """A cancelled batch's chunk still being scored: the deletion removes the objects first,
    then the worker writes its result, finds the batch gone and removes the object itself."""
    batch = _batch(store, dataset_id="ds-rows", rows=2)
    assert store.batches.claim_chunk(batch.id, 0, "w1", 30, 3).outcome == "claimed"
    store.batches.cancel(batch.id)
    assert store.delete_batch(batch.id) is None
    scored = store.batches.rows_scored()
    assert save_result(store, batch.id, 0, b"1,2,0.5,F\n", {}) == "deleted"
    assert object_keys(store, f"batch/{batch.id}/") == []
    assert store.batches.rows_scored() == scored  # its chunk is gone: nothing counted


def test_retention_deletes_batches_that_ended_before_the_cutoff(store: ModelStore) -> None:
    old, recent, running = (_batch(store, rows=1) for _ in range(3))
    store.batches.cancel(old.id)
    ended = store.batches.cancel(recent.id)
    cutoff = from_iso(ended.finished_at)  # `old` ended before it, `recent` at it
    assert delete_expired(store.batches, store.objects, cutoff) == [old.id]
    assert {b.id for b in store.batches.list().items} == {recent.id, running.id}
    assert delete_expired(store.batches, store.objects, cutoff + 1) == [recent.id]
    assert [b.id for b in store.batches.list().items] == [running.id]
