"""Promotions: an append-only history; the newest names the latest model; who promoted it."""

from __future__ import annotations

import pytest

from model_store import CorruptSnapshot, ModelStore, NotFound


@pytest.fixture
def two_models(store: ModelStore, make_snapshot) -> tuple[str, str]:
    first = store.save_snapshot(make_snapshot(job_id="first"))["id"]
    second = store.save_snapshot(make_snapshot(job_id="second"))["id"]
    return first, second


def test_a_new_store_has_no_latest(store: ModelStore) -> None:
    assert store.latest_model_id() is None
    assert store.latest_promotion() is None
    assert store.promotion_history() == []
    assert store.promotions() == []


def test_promotions_are_recorded_in_order_with_who_made_them(
    store: ModelStore, two_models: tuple[str, str]
) -> None:
    first, second = two_models
    store.promote(first)
    seq_first, latest = store.latest_promotion()
    assert latest == first == store.latest_model_id()
    store.promote(second, "alice")
    store.promote(first, "job j-1", verified=True)
    seq_last, latest = store.latest_promotion()
    assert latest == first == store.latest_model_id() and seq_last > seq_first
    history = store.promotions()
    assert [(p["model_id"], p["promoted_by"]) for p in history] == [
        (first, "job j-1"),
        (second, "alice"),
        (first, "anonymous"),
    ]
    times = [p["promoted_at"] for p in history]
    assert all(t.endswith("Z") for t in times) and times == sorted(times, reverse=True)
    assert [p["model_id"] for p in store.promotions(limit=1)] == [first]
    assert store.promotion_history() == [first, second]  # distinct, most recent first
    assert store.promotion_history(limit=1) == [first]
    assert store.promotions_by("alice") == 1 and store.promotions_by("nobody") == 0


def test_the_listing_marks_the_latest(store: ModelStore, two_models: tuple[str, str]) -> None:
    first, second = two_models
    store.promote(first)
    latest = {s["id"]: s["is_latest"] for s in store.list_snapshots().items}
    assert latest == {first: True, second: False}
    assert store.get_model_summary(first)["is_latest"] is True
    store.promote(second)
    latest = {s["id"]: s["is_latest"] for s in store.list_snapshots().items}
    assert latest == {first: False, second: True}


def test_a_missing_model_is_not_promoted(store: ModelStore, two_models: tuple[str, str]) -> None:
    store.promote(two_models[0])
    with pytest.raises(NotFound):
        store.promote("m-missing")
    with pytest.raises(ValueError):
        store.promote("../etc/passwd")
    assert store.latest_model_id() == two_models[0]
    assert len(store.promotions()) == 1


def test_a_corrupt_model_is_not_promoted(
    store: ModelStore, two_models: tuple[str, str], overwrite_object, snapshot_key
) -> None:
    first, second = two_models
    store.promote(first)
    overwrite_object(store, snapshot_key(store, second), b"{}")
    with pytest.raises(CorruptSnapshot):
        store.promote(second, "alice")
    assert store.latest_model_id() == first
    assert store.promotions_by("alice") == 0


def test_a_latest_corrupted_afterwards_is_still_reported_as_latest(
    store: ModelStore, two_models: tuple[str, str], overwrite_object, snapshot_key
) -> None:
    first, _ = two_models
    store.promote(first)
    overwrite_object(store, snapshot_key(store, first), b"not json")
    assert store.latest_model_id() == first  # the caller decides what to serve instead
    with pytest.raises(CorruptSnapshot):
        store.get_snapshot(first)
    summary = store.get_model_summary(first)
    assert summary["is_latest"] is True and summary["status"] == "corrupt"
