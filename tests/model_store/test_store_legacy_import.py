"""`nnservice store import`: a store directory of the file format comes into the database and
the object store as it was (ids, times, sha256, outcomes, the promotion history), once."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from model_store import AlreadyExists, DatasetRecord, ModelStore, StoreError
from model_store.canonical import canonical_json, hashed_snapshot_json
from model_store.datasets import content_id, dataset_columns
from model_store.legacy_import import IMPORTER, import_file_store
from model_store.snapshots import with_defaults
from model_store.times import from_iso, iso, now_us

LONG = 60.0
DAY_US = 86_400 * 1_000_000


def _at(days_ago: float) -> str:
    """An old store's time stamp (UTC, microseconds, "Z"), `days_ago` days before now."""
    return iso(now_us() - int(days_ago * DAY_US))


def _write(path: Path, record: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(canonical_json(record))


def _dataset(root: Path, name: str, weight: list, height: list, label: list, days: float) -> dict:
    record = {
        "id": content_id(dataset_columns(weight, height, label)),
        "name": name,
        "rows": len(label),
        "counts": {"F": int(sum(label)), "M": len(label) - int(sum(label))},
        "created_at": _at(days),
        "weight": [float(v) for v in weight],
        "height": [float(v) for v in height],
        "label": [float(v) for v in label],
    }
    _write(root / "datasets" / f"{record['id']}.json", record)
    return record


def _snapshot(root: Path, make_snapshot, model_id: str, job_id: str | None, days: float) -> dict:
    snapshot = with_defaults(make_snapshot(job_id=job_id, id=model_id, created_at=_at(days)))
    snapshot["sha256"], data = hashed_snapshot_json(snapshot)
    (root / "models").mkdir(parents=True, exist_ok=True)
    (root / "models" / f"{model_id}.json").write_bytes(data)
    return snapshot


def _job(root: Path, job_id: str, state: str, days: float, **fields: object) -> dict:
    record = {
        "id": job_id,
        "state": state,
        "progress": {"epoch": 0, "epochs": 100, "loss": None},
        "loss_history": [],
        "model_id": None,
        "metrics": {"train_accuracy": None, "validation_accuracy": None},
        "error": None,
        "created_at": _at(days),
        "started_at": None,
        "finished_at": None,
        "dataset_id": None,
        "hyperparameters": {"epochs": 100},
        "initial_model_id": None,
        "promote": True,
        "attempts": 0,
        **fields,
    }
    _write(root / "jobs" / f"{job_id}.json", record)
    return record


@pytest.fixture
def old_store(tmp_path: Path, make_snapshot) -> dict:
    """A file store built by hand: two datasets, three snapshots (one a job's), four jobs, a
    checkpoint of the unfinished job, a promotion history; and a few files that are not records."""
    root = tmp_path / "old-store"
    seed = _dataset(root, "seed", [133, 160, 152, 120], [65, 72, 70, 60], [1, 0, 0, 1], 9)
    other = _dataset(root, "other", [100.5, 200.25], [60, 70], [0, 1], 8)
    done = _job(
        root,
        "job-done",
        "succeeded",
        7,
        dataset_id=seed["id"],
        started_at=_at(7),
        finished_at=_at(6.5),
        model_id="m-job-done",
        metrics={"train_accuracy": 0.75, "validation_accuracy": None},
        progress={"epoch": 100, "epochs": 100, "loss": 0.125},
        loss_history=[0.5, 0.125],
        attempts=1,
    )
    failed = _job(root, "job-failed", "failed", 6, error="boom", finished_at=_at(6), attempts=1)
    unfinished = _job(
        root, "job-run", "running", 5, dataset_id=other["id"], started_at=_at(5), attempts=1
    )
    queued = _job(root, "job-queued", "queued", 4, dataset_id=seed["id"])
    snapshots = {
        "m-import": _snapshot(root, make_snapshot, "m-import", None, 3),
        "m-job-done": _snapshot(root, make_snapshot, "m-job-done", "job-done", 6.5),
        "m-third": _snapshot(root, make_snapshot, "m-third", None, 2),
    }
    _write(root / "checkpoints" / "job-run.json", {"epochs_done": 40, "weights": [[0.1]]})
    _write(root / "checkpoints" / "job-done.json", {"epochs_done": 100})  # a finished job's
    promotions = ["m-job-done", "m-import", "m-third", "m-import"]
    (root / "models" / "PROMOTIONS").write_text("".join(f"{i}\n" for i in promotions))
    (root / "models" / "LATEST").write_text("m-import\n")
    (root / "models" / "PROMOTED").write_bytes(b"\x00" * 8)
    (root / "jobs" / "broken.json").write_text("{not json")
    (root / "jobs" / "job-run.cancel").write_text("")
    return {
        "root": root,
        "datasets": {seed["id"]: seed, other["id"]: other},
        "jobs": {j["id"]: j for j in (done, failed, unfinished, queued)},
        "snapshots": snapshots,
        "promotions": promotions,
    }


def test_everything_comes_in_as_it_was(store: ModelStore, old_store: dict) -> None:
    report = import_file_store(store, old_store["root"])
    assert report.added == {
        "datasets": 2,
        "jobs": 4,
        "models": 3,
        "checkpoints": 1,
        "promotions": 4,
    }
    assert report.present == {} and report.unreadable == []

    for dataset_id, record in old_store["datasets"].items():
        info = store.datasets.get(dataset_id)
        fields = ("id", "name", "rows", "counts", "created_at")
        assert info == DatasetRecord(**{key: record[key] for key in fields})
        loaded = store.datasets.load(dataset_id)
        assert loaded.X[:, 0].tobytes() == np.array(record["weight"]).tobytes()
        assert loaded.X[:, 1].tobytes() == np.array(record["height"]).tobytes()
        assert loaded.y.tobytes() == np.array(record["label"]).tobytes()
    assert [d.id for d in store.datasets.list().items] == list(old_store["datasets"])[::-1]

    for model_id, snapshot in old_store["snapshots"].items():
        assert store.models.snapshot(model_id) == snapshot  # same created_at, same sha256
    listed = [m.id for m in store.models.list().items]
    assert listed == ["m-third", "m-import", "m-job-done"]  # by their own times

    assert store.models.latest_id() == "m-import"
    assert [p.model_id for p in store.models.promotions()] == old_store["promotions"][::-1]
    assert {p.promoted_by for p in store.models.promotions()} == {IMPORTER}
    assert store.models.promoted_ids() == ["m-import", "m-third", "m-job-done"]

    for job_id in ("job-done", "job-failed"):
        record, old = store.jobs.get(job_id), old_store["jobs"][job_id]
        for key in ("state", "created_at", "finished_at", "model_id", "metrics", "error"):
            assert getattr(record, key) == old[key], (job_id, key)
        assert (record.loss_history, record.progress) == (
            old["loss_history"],
            old["progress"],
        )
    assert store.jobs.get("job-done").started_at == old_store["jobs"]["job-done"]["started_at"]
    assert store.checkpoints.load("job-done") is None  # a finished job's checkpoint is not kept


def test_unfinished_jobs_come_back_queued_and_the_reaper_resends_them(
    store: ModelStore, old_store: dict
) -> None:
    import_file_store(store, old_store["root"])
    resumed = store.jobs.get("job-run")
    assert (resumed.state, resumed.worker, resumed.finished_at) == ("queued", None, None)
    assert (
        resumed.attempts == 1
        and resumed.dataset_id == store.datasets.load(resumed.dataset_id).info.id
    )
    assert store.checkpoints.load("job-run") == {"epochs_done": 40, "weights": [[0.1]]}
    assert store.jobs.get("job-queued").state == "queued"
    repairs = store.jobs.reap(LONG, 3, LONG)
    assert sorted(repairs.resend) == ["job-queued", "job-run"]
    assert store.jobs.reap(LONG, 3, LONG).resend == []
    claim = store.jobs.claim("job-run", "A", LONG, 3)
    assert claim.outcome == "claimed" and claim.record.attempts == 2


def test_the_id_of_an_imported_jobs_model_stays_reserved(
    store: ModelStore, old_store: dict, make_snapshot
) -> None:
    import_file_store(store, old_store["root"])
    for model_id in ("m-job-run", "m-job-done"):
        with pytest.raises(AlreadyExists):
            store.models.save(make_snapshot(id=model_id), imported=True)


def test_importing_twice_adds_nothing(store: ModelStore, old_store: dict) -> None:
    import_file_store(store, old_store["root"])
    before = {
        "datasets": store.datasets.list().items,
        "models": store.models.list().items,
        "jobs": store.jobs.list().items,
        "promotions": store.models.promotions(),
    }
    report = import_file_store(store, old_store["root"])
    assert report.added == {}
    assert report.present == {
        "datasets": 2,
        "jobs": 4,
        "models": 3,
        "checkpoints": 1,
        "promotions": 1,
    }
    assert report.unreadable == []
    after = {
        "datasets": store.datasets.list().items,
        "models": store.models.list().items,
        "jobs": store.jobs.list().items,
        "promotions": store.models.promotions(),
    }
    assert after == before


def test_a_damaged_old_snapshot_is_reported_not_imported(
    store: ModelStore, old_store: dict
) -> None:
    path = old_store["root"] / "models" / "m-third.json"
    tampered = json.loads(path.read_bytes())
    tampered["weights"][0][0][0] = 123.0  # its sha256 no longer matches
    path.write_bytes(canonical_json(tampered))
    report = import_file_store(store, old_store["root"])
    assert report.added["models"] == 2
    first, promotion = report.unreadable  # the snapshot, and its promotion (not found)
    assert first.startswith("models/m-third.json") and "sha256 does not match" in first
    assert promotion.startswith("models/PROMOTIONS: m-third: ")
    assert store.models.latest_id() == "m-import"
    assert [m.id for m in store.models.list().items] == ["m-import", "m-job-done"]


def test_a_directory_that_is_not_a_store_is_refused(store: ModelStore, tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="not a file store"):
        import_file_store(store, tmp_path)


def test_times_survive_the_import(old_store: dict) -> None:
    for record in old_store["datasets"].values():
        assert iso(from_iso(record["created_at"])) == record["created_at"]
