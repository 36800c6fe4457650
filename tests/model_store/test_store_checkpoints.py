"""Checkpoints: exact round trip, absence and unreadable files read as None."""

from __future__ import annotations

import math

from model_store import ModelStore


def test_checkpoints_round_trip_floats_bit_exactly(store: ModelStore) -> None:
    data = {
        "epochs_done": 400,
        "weights": [[[0.1 + 0.2, math.pi], [5e-324, -1e308]]],
        "rng_state": {"bit_generator": "PCG64", "state": {"state": 2**127 + 12345, "inc": 3}},
        "loss_history": [1 / 3, 2 / 3],
    }
    store.save_checkpoint("job1", data)
    assert store.load_checkpoint("job1") == data
    data["epochs_done"] = 600
    store.save_checkpoint("job1", data)
    assert store.load_checkpoint("job1")["epochs_done"] == 600


def test_missing_or_unreadable_checkpoints_read_as_none(store: ModelStore) -> None:
    assert store.load_checkpoint("job1") is None
    (store.root / "checkpoints" / "job1.json").write_text('{"epochs_done": 4')
    assert store.load_checkpoint("job1") is None
    (store.root / "checkpoints" / "job1.json").write_text("[1]")
    assert store.load_checkpoint("job1") is None


def test_delete_checkpoint(store: ModelStore) -> None:
    store.save_checkpoint("job1", {"epochs_done": 1})
    store.delete_checkpoint("job1")
    store.delete_checkpoint("job1")
    assert store.load_checkpoint("job1") is None
    assert list((store.root / "checkpoints").iterdir()) == []
