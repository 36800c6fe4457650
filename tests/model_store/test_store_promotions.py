"""Promotions: an append-only history; the newest names the latest model; who promoted it."""

from __future__ import annotations

import pytest

from model_store import CorruptSnapshot, ModelStore, NotFound


@pytest.fixture
def two_models(store: ModelStore, make_snapshot) -> tuple[str, str]:
    first = store.models.save(make_snapshot(job_id="first"))["id"]
    second = store.models.save(make_snapshot(job_id="second"))["id"]
    return first, second


def test_a_new_store_has_no_latest(store: ModelStore) -> None:
    assert store.models.latest_id() is None
    assert store.models.latest_promotion() is None
    assert store.models.promoted_ids() == []
    assert store.models.promotions() == []


def test_promotions_are_recorded_in_order_with_who_made_them(
    store: ModelStore, two_models: tuple[str, str]
) -> None:
    first, second = two_models
    store.models.promote(first)
    newest = store.models.latest_promotion()
    assert newest.model_id == first == store.models.latest_id()
    store.models.promote(second, "alice")
    store.models.promote(first, "job j-1", verified=True)
    last = store.models.latest_promotion()
    assert last.model_id == first == store.models.latest_id() and last.seq > newest.seq
    history = store.models.promotions()
    assert [(p.model_id, p.promoted_by) for p in history] == [
        (first, "job j-1"),
        (second, "alice"),
        (first, "anonymous"),
    ]
    times = [p.promoted_at for p in history]
    assert all(t.endswith("Z") for t in times) and times == sorted(times, reverse=True)
    assert [p.model_id for p in store.models.promotions(limit=1)] == [first]
    assert store.models.promoted_ids() == [first, second]  # distinct, most recent first
    assert store.models.promoted_ids(limit=1) == [first]
    assert (
        store.models.count_promotions_by("alice") == 1
        and store.models.count_promotions_by("nobody") == 0
    )


def test_the_listing_marks_the_latest(store: ModelStore, two_models: tuple[str, str]) -> None:
    first, second = two_models
    store.models.promote(first)
    latest = {m.id: m.is_latest for m in store.models.list().items}
    assert latest == {first: True, second: False}
    assert store.models.get(first).is_latest is True
    store.models.promote(second)
    latest = {m.id: m.is_latest for m in store.models.list().items}
    assert latest == {first: False, second: True}


def test_a_missing_model_is_not_promoted(store: ModelStore, two_models: tuple[str, str]) -> None:
    store.models.promote(two_models[0])
    with pytest.raises(NotFound):
        store.models.promote("m-missing")
    with pytest.raises(ValueError):
        store.models.promote("../etc/passwd")
    assert store.models.latest_id() == two_models[0]
    assert len(store.models.promotions()) == 1


def test_a_corrupt_model_is_not_promoted(
    store: ModelStore, two_models: tuple[str, str], overwrite_object, snapshot_key
) -> None:
    first, second = two_models
    store.models.promote(first)
    overwrite_object(store, snapshot_key(store, second), b"{}")
    with pytest.raises(CorruptSnapshot):
        store.models.promote(second, "alice")
    assert store.models.latest_id() == first
    assert store.models.count_promotions_by("alice") == 0


def test_a_latest_corrupted_afterwards_is_still_reported_as_latest(
    store: ModelStore, two_models: tuple[str, str], overwrite_object, snapshot_key
) -> None:
    first, _ = two_models
    store.models.promote(first)
    overwrite_object(store, snapshot_key(store, first), b"not json")
    assert store.models.latest_id() == first  # the caller decides what to serve instead
    with pytest.raises(CorruptSnapshot):
        store.models.snapshot(first)
    summary = store.models.get(first)
    assert summary.is_latest is True and summary.status == "corrupt"
