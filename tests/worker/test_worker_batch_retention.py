"""The workers' reaper deletes old batch predictions: at its first pass, then at most every
`SWEEP_EVERY_SECONDS` (a clock the test moves), those that ended longer ago than the retention
(counted from a time the test gives), with their objects; with no retention (0, the default) it
keeps every batch but still finishes a deletion that was cut short."""

from __future__ import annotations

import pytest
from stores import object_keys

from foundation.settings import Settings
from model_store import ModelStore, NotFound
from model_store.batches import result_key
from model_store.times import from_iso
from worker.batch_retention import SWEEP_EVERY_SECONDS, BatchSweeper

SNAPSHOT = {
    "layer_sizes": [2, 1],
    "loss": "mse",
    "weights": [[[1.0, -1.0]]],
    "biases": [[0.0]],
    "normalization": {"mean": [135.0, 66.0], "scale": [1.0, 1.0]},
    "training": {},
}
HOUR = 3600.0


def _ended_batch(store: ModelStore, model_id: str, number: int) -> str:
    """A cancelled batch of one chunk whose result object was written; its id."""
    batch_id = f"bp-retention-{number}"
    store.batches.create(
        {"id": batch_id, "model_id": model_id, "has_gender": False, "rows_total": 1}, 1
    )
    assert store.objects.create(result_key(batch_id, 0), b"1,2,0.5,F\n")
    store.batches.cancel(batch_id)
    return batch_id


def test_old_batches_are_deleted_at_the_first_pass_and_then_every_few_minutes(
    store: ModelStore,
) -> None:
    assert Settings().batch_retention_seconds == 0  # kept until deleted, unless asked
    model_id = store.models.save(SNAPSHOT)["id"]
    old, recent = (_ended_batch(store, model_id, n) for n in range(2))
    recent_end = from_iso(store.batches.get(recent).finished_at)
    clock = [1000.0]
    sweeper = BatchSweeper(HOUR, clock=lambda: clock[0])

    # An hour after `recent` ended: `old` ended over an hour before, `recent` exactly then.
    now = recent_end + int(HOUR * 1_000_000)
    assert sweeper.sweep_if_due(store, now) == [old]
    assert object_keys(store, f"batch/{old}/") == []
    assert sweeper.sweep_if_due(store, now + 1) is None  # not due again yet
    clock[0] += SWEEP_EVERY_SECONDS
    assert sweeper.sweep_if_due(store, now + 1) == [recent]
    assert object_keys(store, "batch/") == []

    kept = _ended_batch(store, model_id, 2)
    forever = BatchSweeper(0.0, clock=lambda: clock[0])
    assert forever.sweep_if_due(store, now + 10**15) == []  # no retention: every batch stays
    store.batches.mark_deleting(kept)  # a deletion that was cut short
    clock[0] += SWEEP_EVERY_SECONDS
    assert forever.sweep_if_due(store) == [kept]
    assert object_keys(store, "batch/") == []
    with pytest.raises(NotFound):
        store.batches.get(kept)
