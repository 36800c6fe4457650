"""Deleting models, datasets and finished jobs' records: refused while something needs them,
else the row and then its blob; nothing else changes."""

from __future__ import annotations

import numpy as np
import pytest
import sqlalchemy as sa

from foundation.states import JobState
from model_store import InUse, ModelStore, NotFound, tables
from model_store.ids import utc_now_iso
from model_store.times import from_iso


def object_key_of(store: ModelStore, table: sa.Table, row_id: str) -> str:
    with store.engine.connect() as connection:
        return connection.execute(
            sa.select(table.c.object_key).where(table.c.id == row_id)
        ).scalar_one()


def _blob_exists(store: ModelStore, key: str) -> bool:
    try:
        store.objects.get(key)
    except NotFound:
        return False
    return True


def _save_dataset(store: ModelStore, offset: float = 0.0) -> str:
    weight = np.array([120.0, 180.0, 130.0, 190.0]) + offset
    info, _ = store.datasets.save("people", weight, [62.0, 71.0, 64.0, 72.0], [1, 0, 1, 0])
    return info.id


def _end(store: ModelStore, job_id: str) -> None:
    cancelled = store.jobs.transition(
        job_id, (JobState.QUEUED,), state=JobState.CANCELLED, finished_at=utc_now_iso()
    )
    assert cancelled is not None


def test_an_unnamed_model_is_deleted_with_its_snapshot_and_nothing_else(
    store: ModelStore, make_snapshot
) -> None:
    kept = store.models.save(make_snapshot(job_id="kept"))["id"]
    doomed = store.models.save(make_snapshot(job_id="doomed"))["id"]
    store.models.promote(kept)
    key = object_key_of(store, tables.models, doomed)
    kept_before = store.models.snapshot(kept)
    store.models.delete(doomed)
    with pytest.raises(NotFound):
        store.models.get(doomed)
    with pytest.raises(NotFound):
        store.models.snapshot(doomed)
    assert not _blob_exists(store, key)
    assert not store.models.exists(doomed) and store.models.exists(kept)
    assert store.models.snapshot(kept) == kept_before and store.models.latest_id() == kept
    assert [m.id for m in store.models.list().items] == [kept]
    with pytest.raises(NotFound):
        store.models.delete(doomed)


def test_a_model_an_alias_names_is_refused_until_the_alias_moves_and_history_keeps_it(
    store: ModelStore, make_snapshot
) -> None:
    first = store.models.save(make_snapshot(job_id="first"))["id"]
    second = store.models.save(make_snapshot(job_id="second"))["id"]
    store.models.promote(first, "alice")
    with pytest.raises(InUse) as refused:
        store.models.delete(first)
    assert refused.value.holders == {"aliases": ["latest"]}
    assert "latest" in str(refused.value)
    assert store.models.snapshot(first)["id"] == first
    store.models.promote(second, "bob")
    store.models.delete(first)
    history = store.models.promotions()
    assert [(p.model_id, p.promoted_by) for p in history] == [(second, "bob"), (first, "alice")]
    assert store.models.latest_id() == second
    with pytest.raises(InUse):
        store.models.delete(second)


def test_any_alias_holds_a_model_and_only_its_newest_promotion_counts(
    store: ModelStore, make_snapshot
) -> None:
    first = store.models.save(make_snapshot(job_id="first"))["id"]
    second = store.models.save(make_snapshot(job_id="second"))["id"]
    store.models.promote(first, alias="champion")
    store.models.promote(first, alias="canary")
    store.models.promote(second)  # latest
    assert store.models.aliases_of(first) == ["canary", "champion"]
    with pytest.raises(InUse) as refused:
        store.models.delete(first)
    assert refused.value.holders == {"aliases": ["canary", "champion"]}
    store.models.promote(second, alias="champion")
    with pytest.raises(InUse) as refused:
        store.models.delete(first)
    assert refused.value.holders == {"aliases": ["canary"]}
    store.models.promote(second, alias="canary")
    assert store.models.aliases_of(first) == []
    store.models.delete(first)
    assert store.models.aliases_of(second) == ["canary", "champion", "latest"]


def test_a_model_an_unfinished_job_starts_from_or_will_save_is_refused(
    store: ModelStore, make_snapshot, new_job
) -> None:
    base = store.models.save(make_snapshot(job_id="base"))["id"]
    new_job(store, "warm", initial_model_id=base)
    with pytest.raises(InUse) as refused:
        store.models.delete(base)
    assert refused.value.holders == {"jobs": ["warm"]}
    new_job(store, "saving")
    own = store.models.save(make_snapshot(job_id="saving", id="m-saving"))["id"]
    with pytest.raises(InUse) as refused:
        store.models.delete(own)
    assert refused.value.holders == {"jobs": ["saving"]}
    _end(store, "warm")
    _end(store, "saving")
    store.models.delete(base)
    store.models.delete(own)
    assert store.models.list().items == []
    assert store.jobs.get("warm").initial_model_id == base  # the job's record is history


def test_a_deleted_model_cannot_be_promoted(store: ModelStore, make_snapshot) -> None:
    model_id = store.models.save(make_snapshot(job_id="gone"))["id"]
    store.models.delete(model_id)
    for verified in (False, True):
        with pytest.raises(NotFound):
            store.models.promote(model_id, verified=verified)
    assert store.models.promotions() == []


def test_a_dataset_is_refused_while_an_unfinished_job_trains_on_it(
    store: ModelStore, make_snapshot, new_job
) -> None:
    dataset_id = _save_dataset(store)
    other = _save_dataset(store, offset=1.0)
    key = object_key_of(store, tables.datasets, dataset_id)
    model_id = store.models.save(make_snapshot(job_id="old", training={"dataset_id": dataset_id}))[
        "id"
    ]
    store.models.promote(model_id)
    new_job(store, "finished", dataset_id=dataset_id)
    _end(store, "finished")
    new_job(store, "queued", dataset_id=dataset_id)
    new_job(store, "elsewhere", dataset_id=other)
    with pytest.raises(InUse) as refused:
        store.datasets.delete(dataset_id)
    assert refused.value.holders == {"jobs": ["queued"]}
    assert store.datasets.load(dataset_id).X.shape == (4, 2)
    _end(store, "queued")
    store.datasets.delete(dataset_id)
    with pytest.raises(NotFound):
        store.datasets.get(dataset_id)
    assert not _blob_exists(store, key)
    assert store.models.get(model_id).dataset_id == dataset_id  # lineage stays
    assert store.models.load(model_id).model_id == model_id  # and it still serves
    assert [m.id for m in store.models.list(dataset_id=dataset_id).items] == [model_id]
    assert store.jobs.get("finished").dataset_id == dataset_id
    assert [d.id for d in store.datasets.list().items] == [other]
    assert store.datasets.load(other).X.shape == (4, 2)
    with pytest.raises(NotFound):
        store.datasets.delete(dataset_id)


def test_a_dataset_deleted_can_be_uploaded_again(store: ModelStore) -> None:
    dataset_id = _save_dataset(store)
    store.datasets.delete(dataset_id)
    assert _save_dataset(store) == dataset_id
    assert store.datasets.load(dataset_id).y.tolist() == [1.0, 0.0, 1.0, 0.0]


def test_only_a_finished_job_is_purged_with_its_checkpoint(
    store: ModelStore, make_snapshot, new_job
) -> None:
    new_job(store, "done")
    new_job(store, "waiting")
    store.checkpoints.save("done", {"epoch": 3})
    store.checkpoints.save("waiting", {"epoch": 1})
    assert store.purge_job("waiting") == JobState.QUEUED
    assert store.jobs.get("waiting").state == JobState.QUEUED
    assert store.checkpoints.load("waiting") == {"epoch": 1}
    _end(store, "done")
    assert store.purge_job("done") is None
    with pytest.raises(NotFound):
        store.jobs.get("done")
    assert store.checkpoints.load("done") is None
    with pytest.raises(NotFound):
        store.purge_job("done")
    assert [job.id for job in store.jobs.list().items] == ["waiting"]


PROMOTER_OR_DELETER = """
import sys
from model_store import InUse, ModelStore, NotFound
store = ModelStore(sys.argv[1], sys.argv[2])
store.models.get(sys.argv[4])  # connected
print("ready", flush=True); sys.stdin.readline()
try:
    if sys.argv[3] == "promote":
        store.models.promote(sys.argv[4], alias=sys.argv[5], verified=True)
    else:
        store.models.delete(sys.argv[4])
    print("done")
except (InUse, NotFound) as error:
    print(type(error).__name__)
"""


def test_a_promotion_racing_a_delete_never_names_a_deleted_model(
    store: ModelStore, store_locations, make_snapshot, run_together
) -> None:
    model_ids = [store.models.save(make_snapshot(job_id=f"race{n}"))["id"] for n in range(3)]
    arguments = [
        [*store_locations, step, model_id, f"alias-{model_id}"]
        for model_id in model_ids
        for step in ("promote", "delete")
    ]
    outcomes = run_together(PROMOTER_OR_DELETER, arguments)
    pairs = [outcomes[index : index + 2] for index in range(0, len(outcomes), 2)]
    for model_id, (promoted, deleted) in zip(model_ids, pairs, strict=True):
        if store.models.exists(model_id):
            assert (promoted, deleted) == ("done", "InUse")
            assert store.models.aliases_of(model_id) == [f"alias-{model_id}"]
        else:
            assert (promoted, deleted) == ("NotFound", "done")
            assert store.models.promotions(alias=f"alias-{model_id}") == []


def test_a_re_upload_between_a_deletions_row_and_blob_keeps_its_own_blob(
    store: ModelStore,
) -> None:
    """The interleaving a crash-safe order allows: the deletion has removed the row and not yet
    the blob when the same rows are uploaded again; the new row must not name that blob."""
    dataset_id = _save_dataset(store)
    old_key = object_key_of(store, tables.datasets, dataset_id)
    with store.engine.begin() as connection:  # the deletion's transaction, committed
        connection.execute(tables.datasets.delete().where(tables.datasets.c.id == dataset_id))
    assert _save_dataset(store) == dataset_id  # uploaded again meanwhile
    new_key = object_key_of(store, tables.datasets, dataset_id)
    assert new_key != old_key
    store.objects.delete(old_key)  # the deletion's second step
    assert store.datasets.load(dataset_id).y.tolist() == [1.0, 0.0, 1.0, 0.0]
    store.datasets.delete(dataset_id)
    assert not _blob_exists(store, new_key)


def test_a_re_import_between_a_deletions_row_and_blob_keeps_its_own_blob(
    store: ModelStore, make_snapshot
) -> None:
    saved = store.models.save(make_snapshot(id="m-again"), imported=True)
    old_key = object_key_of(store, tables.models, "m-again")
    with store.engine.begin() as connection:
        connection.execute(tables.models.delete().where(tables.models.c.id == "m-again"))
    again = store.models.save(saved, created_us=from_iso(saved["created_at"]), imported=True)
    assert again["sha256"] == saved["sha256"]  # the very same bytes
    assert object_key_of(store, tables.models, "m-again") != old_key
    store.objects.delete(old_key)
    assert store.models.snapshot("m-again") == saved
