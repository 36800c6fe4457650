"""Job records: defaults, updates under flock across processes, transitions, listing, cancel."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from model_store import AlreadyExists, ModelStore, NotFound, StoreError


def new_job(store: ModelStore, job_id: str = "job1", **fields: object) -> dict:
    record = {
        "id": job_id,
        "dataset_id": "ds-0123456789abcdef01234567",
        "hyperparameters": {"epochs": 1000},
        **fields,
    }
    return store.create_job(record)


def test_create_job_fills_the_documented_record(store: ModelStore) -> None:
    job = new_job(store, state="running", promote=False)
    assert job == {
        "id": "job1",
        "state": "queued",
        "progress": {"epoch": 0, "epochs": 1000, "loss": None},
        "loss_history": [],
        "model_id": None,
        "metrics": {"train_accuracy": None, "validation_accuracy": None},
        "error": None,
        "created_at": job["created_at"],
        "started_at": None,
        "finished_at": None,
        "dataset_id": "ds-0123456789abcdef01234567",
        "hyperparameters": {"epochs": 1000},
        "initial_model_id": None,
        "promote": False,
        "attempts": 0,
    }
    assert job["created_at"].endswith("Z")
    assert store.get_job("job1") == job


def test_create_job_needs_a_new_id(store: ModelStore) -> None:
    with pytest.raises(ValueError, match="id"):
        store.create_job({"dataset_id": "ds-x"})
    new_job(store)
    with pytest.raises(AlreadyExists):
        new_job(store)


def test_job_version_changes_with_every_update_and_is_none_without_a_job(
    store: ModelStore,
) -> None:
    assert store.job_version("job1") is None
    new_job(store)
    first = store.job_version("job1")
    store.update_job("job1", progress={"epoch": 1, "epochs": 1000, "loss": 0.2})
    second = store.job_version("job1")
    store.update_job("job1", progress={"epoch": 1, "epochs": 1000, "loss": 0.2})
    third = store.job_version("job1")  # same content, rewritten: a new file, a new inode
    assert None not in (first, second, third)
    assert first != second and second != third
    store.delete_job("job1")
    assert store.job_version("job1") is None


def test_update_and_transition(store: ModelStore) -> None:
    new_job(store)
    updated = store.update_job("job1", progress={"epoch": 5, "epochs": 1000, "loss": 0.2})
    assert updated["progress"]["epoch"] == 5 and store.get_job("job1") == updated
    running = store.transition_job("job1", ("queued",), state="running", started_at="t")
    assert running is not None and running["state"] == "running"
    assert store.transition_job("job1", ("queued",), state="running") is None
    assert store.get_job("job1") == running
    assert store.transition_job("job1", "run", state="failed") is None  # a state, not a substring
    done = store.transition_job("job1", "running", state="succeeded", model_id="m-job1")
    assert done is not None and done["model_id"] == "m-job1"


def test_the_id_cannot_change_and_states_are_checked(store: ModelStore) -> None:
    new_job(store)
    assert store.update_job("job1", id="other")["id"] == "job1"
    with pytest.raises(ValueError, match="state"):
        store.update_job("job1", state="exploded")
    assert store.get_job("job1")["state"] == "queued"


def test_modify_job_sees_the_current_record(store: ModelStore) -> None:
    new_job(store)
    for _ in range(3):
        store.modify_job("job1", lambda record: {"attempts": record["attempts"] + 1})
    assert store.get_job("job1")["attempts"] == 3
    assert store.modify_job("job1", lambda record: None) is None


def test_missing_jobs(store: ModelStore) -> None:
    for call in (
        lambda: store.get_job("nope"),
        lambda: store.update_job("nope", state="running"),
        lambda: store.transition_job("nope", ["queued"], state="running"),
        lambda: store.delete_job("nope"),
        lambda: store.request_cancel("nope"),
    ):
        with pytest.raises(NotFound):
            call()
    assert not (store.root / "jobs" / "nope.json").exists()


UPDATER = """
import sys
from model_store import ModelStore
store = ModelStore(sys.argv[1])
worker = sys.argv[2]
for i in range(int(sys.argv[3])):
    store.update_job("job1", **{worker: i})
    store.modify_job("job1", lambda record: {"attempts": record["attempts"] + 1})
print("ok")
"""


def test_concurrent_updates_from_several_processes_lose_nothing(
    store: ModelStore, run_python
) -> None:
    new_job(store)
    workers, rounds = 4, 50
    processes = [run_python(UPDATER, str(store.root), f"w{n}", str(rounds)) for n in range(workers)]
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert out.strip() == "ok", err
    record = store.get_job("job1")
    assert record["attempts"] == workers * rounds  # no lost increment
    assert all(record[f"w{n}"] == rounds - 1 for n in range(workers))  # no lost field
    assert not any(p.name.endswith(".tmp") for p in (store.root / "jobs").iterdir())


def test_list_jobs_newest_first_with_limit_skipping_unreadable(store: ModelStore) -> None:
    for n in range(5):
        new_job(store, f"job{n}")
    (store.root / "jobs" / "broken.json").write_text("{not json")
    (store.root / "jobs" / "array.json").write_text("[1, 2]")
    assert [j["id"] for j in store.list_jobs()] == [f"job{n}" for n in range(4, -1, -1)]
    assert [j["id"] for j in store.list_jobs(limit=2)] == ["job4", "job3"]
    assert store.list_jobs(limit=0) == []
    with pytest.raises(ValueError):
        store.list_jobs(limit=-1)


def test_cancel_marker(store: ModelStore) -> None:
    new_job(store)
    assert store.cancel_requested("job1") is False
    store.request_cancel("job1")
    store.request_cancel("job1")
    assert store.cancel_requested("job1") is True


def test_delete_job_removes_every_trace(store: ModelStore) -> None:
    new_job(store)
    store.update_job("job1", state="running")
    store.request_cancel("job1")
    store.save_checkpoint("job1", {"epochs_done": 1})
    store.delete_job("job1")
    assert list((store.root / "jobs").iterdir()) == []
    assert store.load_checkpoint("job1") is None
    with pytest.raises(NotFound):
        store.get_job("job1")


def test_records_are_plain_json_on_disk(store: ModelStore) -> None:
    new_job(store)
    store.update_job("job1", loss_history=[0.5, 0.25])
    on_disk = json.loads((store.root / "jobs" / "job1.json").read_text())
    assert on_disk == store.get_job("job1")


def test_non_finite_values_are_refused(store: ModelStore) -> None:
    new_job(store)
    with pytest.raises(ValueError):
        store.update_job("job1", progress={"epoch": 1, "epochs": 2, "loss": float("nan")})
    assert store.get_job("job1")["progress"]["loss"] is None


def test_threads_of_one_process_are_serialised_too(store: ModelStore) -> None:
    new_job(store)

    def bump() -> None:
        for _ in range(50):
            store.modify_job("job1", lambda record: {"attempts": record["attempts"] + 1})

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.get_job("job1")["attempts"] == 200


def test_numpy_values_are_stored_as_plain_numbers(store: ModelStore) -> None:
    new_job(store)
    store.update_job(
        "job1",
        progress={"epoch": np.int64(3), "epochs": 1000, "loss": np.float32(0.5)},
        loss_history=np.array([0.25, 0.125]),
    )
    record = store.get_job("job1")
    assert record["progress"] == {"epoch": 3, "epochs": 1000, "loss": 0.5}
    assert record["loss_history"] == [0.25, 0.125]


def test_a_jobs_directory_that_cannot_be_listed_raises_store_error(store: ModelStore) -> None:
    (store.root / "jobs").rmdir()
    (store.root / "jobs").write_text("not a directory")
    with pytest.raises(StoreError, match="cannot list jobs"):
        store.list_jobs()


def test_only_writes_that_settle_a_job_sync_the_directory(
    store: ModelStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from model_store import atomic

    synced: list[str] = []
    real_fsync_dir = atomic.fsync_dir

    def recording_fsync_dir(directory):
        synced.append(directory.name)
        real_fsync_dir(directory)

    monkeypatch.setattr(atomic, "fsync_dir", recording_fsync_dir)

    def dir_syncs(write) -> int:
        synced.clear()
        write()
        return synced.count("jobs")

    assert dir_syncs(lambda: new_job(store)) == 1
    claim = {"state": "running", "attempts": 1, "worker": "host:1", "error": None}
    assert dir_syncs(lambda: store.update_job("job1", **claim)) == 0
    assert dir_syncs(lambda: store.update_job("job1", progress={"epoch": 3})) == 0
    assert dir_syncs(lambda: store.update_job("job1", state="queued", attempts=0)) == 1
    assert dir_syncs(lambda: store.update_job("job1", state="succeeded", model_id="m-1")) == 1
    assert store.get_job("job1")["state"] == "succeeded"
