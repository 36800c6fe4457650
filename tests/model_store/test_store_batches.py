"""Batch predictions in the store, on each backend: an object streamed in pieces; a chunk marked
done twice counts once; a lost chunk is requeued by the reaper, or fails its batch after the
last attempt; a model or dataset an unfinished batch needs cannot be deleted."""

from __future__ import annotations

import time

import pytest

from model_store import InUse, ModelStore, NotFound
from model_store.batches import result_key

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
