"""Checkpoints: exact round trip, replacement, deletion; absent or unreadable ones read as None."""

from __future__ import annotations

import math

import pytest

from model_store import ModelStore
from model_store.checkpoints import checkpoint_key


def test_checkpoints_round_trip_floats_bit_exactly(store: ModelStore) -> None:
    data = {
        "epochs_done": 400,
        "weights": [[[0.1 + 0.2, math.pi], [5e-324, -1e308]]],
        "rng_state": {"bit_generator": "PCG64", "state": {"state": 2**127 + 12345, "inc": 3}},
        "loss_history": [1 / 3, 2 / 3],
    }
    store.checkpoints.save("job1", data)
    assert store.checkpoints.load("job1") == data
    data["epochs_done"] = 600
    store.checkpoints.save("job1", data)
    assert store.checkpoints.load("job1")["epochs_done"] == 600
    assert store.checkpoints.load("job2") is None


def test_unreadable_checkpoints_read_as_none(store: ModelStore, overwrite_object) -> None:
    for content in (b'{"epochs_done": 4', b"[1]", b"\xff\xfe", b"NaN", b""):
        store.checkpoints.save("job1", {"epochs_done": 1})
        overwrite_object(store, checkpoint_key("job1"), content)
        assert store.checkpoints.load("job1") is None, content


def test_a_checkpoint_with_nan_is_refused(store: ModelStore) -> None:
    with pytest.raises(ValueError):
        store.checkpoints.save("job1", {"loss": float("nan")})
    assert store.checkpoints.load("job1") is None


def test_delete_checkpoint(store: ModelStore) -> None:
    store.checkpoints.save("job1", {"epochs_done": 1})
    store.checkpoints.delete("job1")
    store.checkpoints.delete("job1")  # deleting nothing is fine
    assert store.checkpoints.load("job1") is None
