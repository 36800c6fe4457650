"""Worker faults for real (issue 4, items 1 and 5): SIGKILL of the pool child running a job, SIGKILL
of the whole worker, SIGTERM (graceful) and a job that keeps losing its worker; SIGKILL of a job
with early stopping.

Each job resumes from its last checkpoint and must end with weights bit-identical to an
uninterrupted run of the same job, with exactly one snapshot.
"""

from __future__ import annotations

import json
import os
import signal
import time
import uuid

import numpy as np
import pytest

from foundation.settings import Settings
from model_store import JobRecord, ModelStore
from model_store.schema import upgrade
from service.schemas.train import DEFAULT_HYPERPARAMETERS
from worker.celery_config import make_celery
from worker.names import TRAIN_TASK
from worker.training_job import run_training_job

pytestmark = pytest.mark.timeout(180)

#: Long enough (about a second and a half of training) to be killed after its first checkpoint.
HYPERPARAMETERS = {
    **DEFAULT_HYPERPARAMETERS,
    "epochs": 10_000,
    "seed": 42,
    "validation_fraction": 0.2,
}
#: The same job with early stopping: its validation loss is lowest at an early epoch (before the
#: first checkpoint) and never falls 1e-4 below that again, so it stops 8,000 epochs later,
#: before its budget and long after the checkpoint after which the test kills it.
EARLY_STOPPING = {
    **HYPERPARAMETERS,
    "early_stopping_patience": 8000,
    "early_stopping_min_delta": 1e-4,
}


def _people(n: int = 1000) -> dict:
    """n people, half F and half M, drawn once from a fixed generator."""
    rng = np.random.default_rng(2024)
    half = n // 2
    return {
        "weight": np.r_[rng.normal(135, 12, half), rng.normal(175, 15, half)],
        "height": np.r_[rng.normal(64, 2.5, half), rng.normal(70, 3, half)],
        "label": np.r_[np.ones(half), np.zeros(half)],
    }


def _create_job(store: ModelStore, hyperparameters: dict = HYPERPARAMETERS) -> str:
    info, _ = store.datasets.save("people", **_people())
    job_id = uuid.uuid4().hex
    store.jobs.create({"id": job_id, "dataset_id": info.id, "hyperparameters": hyperparameters})
    return job_id


def _parameters(store: ModelStore, model_id: str) -> list[np.ndarray]:
    snapshot = store.models.snapshot(model_id)
    return [np.array(a) for a in snapshot["weights"] + snapshot["biases"]]


def _uninterrupted(directory, hyperparameters: dict) -> tuple[list[np.ndarray], JobRecord]:
    """The weights and the final record of an uninterrupted run of a job, in this process."""
    settings = Settings(store_path=directory, checkpoint_seconds=3600.0)
    upgrade(settings.store_database_url)
    store = ModelStore.from_settings(settings)
    job_id = _create_job(store, hyperparameters)
    assert run_training_job(store, job_id, settings) == "succeeded"
    record = store.jobs.get(job_id)
    return _parameters(store, record.model_id), record


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> list[np.ndarray]:
    """The weights of an uninterrupted run of the job, trained in this process."""
    return _uninterrupted(tmp_path_factory.mktemp("reference"), HYPERPARAMETERS)[0]


@pytest.fixture
def send(stack):
    app = make_celery(Settings(redis_url=stack.redis_url, store_path=stack.store_path))

    def send_job() -> str:
        job_id = _create_job(stack.store)
        app.send_task(TRAIN_TASK, kwargs={"job_id": job_id}, task_id=job_id)
        return job_id

    yield send_job
    app.close()


def _running_after_checkpoint(stack, job_id: str, not_owner: set[str] = frozenset()) -> JobRecord:
    """Wait until the job runs under a new owner that has written a checkpoint; the record."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        record = stack.store.jobs.get(job_id)
        assert record.state in ("queued", "running"), record
        checkpoint = stack.store.checkpoints.load(job_id)
        fresh_owner = record.state == "running" and record.worker not in not_owner
        if fresh_owner and checkpoint and checkpoint["epochs_done"] > 0:
            return record
        time.sleep(0.02)
    raise TimeoutError(f"job {job_id} never ran with a checkpoint: {record}")


def _assert_finished_like_reference(stack, job_id: str, reference, attempts: int) -> JobRecord:
    record = stack.wait_for_record(job_id, timeout=90)
    assert record.state == "succeeded", record.error
    assert record.attempts == attempts
    resumed = _parameters(stack.store, record.model_id)
    assert all(np.array_equal(a, b) for a, b in zip(reference, resumed, strict=True))
    mine = [m for m in stack.store.models.list().items if m.job_id == job_id]
    assert [m.id for m in mine] == [record.model_id]
    assert stack.store.checkpoints.load(job_id) is None
    return record


def test_sigkill_of_the_pool_child_resumes_from_the_checkpoint(stack, send, reference) -> None:
    job_id = send()
    record = _running_after_checkpoint(stack, job_id)
    pid = int(record.worker.split(":")[1])
    assert pid in stack.worker_child_pids()

    os.kill(pid, signal.SIGKILL)

    _assert_finished_like_reference(stack, job_id, reference, attempts=2)
    assert f"job {job_id}: resuming after epoch" in (stack.root / "worker.log").read_text()


def test_sigkill_of_the_whole_worker_then_a_new_worker_finishes_the_job(
    stack, send, reference
) -> None:
    job_id = send()
    _running_after_checkpoint(stack, job_id)

    stack.kill_worker(signal.SIGKILL)
    stack.start_worker()

    _assert_finished_like_reference(stack, job_id, reference, attempts=2)


def test_sigterm_checkpoints_and_requeues_the_job_for_the_next_worker(
    stack, send, reference
) -> None:
    job_id = send()
    _running_after_checkpoint(stack, job_id)

    assert stack.kill_worker(signal.SIGTERM) == 0

    record = stack.store.jobs.get(job_id)
    assert record.state == "queued" and record.attempts == 0
    assert 0 < stack.store.checkpoints.load(job_id)["epochs_done"] < HYPERPARAMETERS["epochs"]
    stack.start_worker()
    _assert_finished_like_reference(stack, job_id, reference, attempts=1)


def test_a_job_that_loses_its_worker_three_times_fails(stack, send) -> None:
    job_id = send()
    killed: set[str] = set()
    for _ in range(3):
        record = _running_after_checkpoint(stack, job_id, not_owner=killed)
        killed.add(record.worker)
        os.kill(int(record.worker.split(":")[1]), signal.SIGKILL)

    record = stack.wait_for_record(job_id, timeout=60)
    assert record.state == "failed"
    assert "lost 3 times" in record.error
    assert not [m for m in stack.store.models.list().items if m.job_id == job_id]
    assert stack.store.checkpoints.load(job_id) is None


def test_sigkill_of_a_job_with_early_stopping_resumes_to_the_same_early_stop(
    stack, tmp_path
) -> None:
    expected_weights, expected = _uninterrupted(tmp_path / "reference", EARLY_STOPPING)
    assert expected.best_epoch < 200 < expected.stopped_epoch < EARLY_STOPPING["epochs"]
    info, _ = stack.store.datasets.save("people", **_people())
    body = {"dataset_id": info.id, "hyperparameters": EARLY_STOPPING, "promote": False}
    response = stack.post("/train", json=body)
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    record = _running_after_checkpoint(stack, job_id)

    os.kill(int(record.worker.split(":")[1]), signal.SIGKILL)

    # The resumed worker never saw the best epoch: its weights came from the checkpoint.
    record = _assert_finished_like_reference(stack, job_id, expected_weights, attempts=2)
    kept = {"stopped_epoch": expected.stopped_epoch, "best_epoch": expected.best_epoch}
    assert (record.stopped_epoch, record.best_epoch) == tuple(kept.values())
    assert record.metrics == expected.metrics and record.loss_history == expected.loss_history
    job = stack.get(f"/jobs/{job_id}").json()
    assert {name: job[name] for name in kept} == kept
    with stack.get(f"/jobs/{job_id}/events", stream=True) as stream:
        lines = list(stream.iter_lines(decode_unicode=True))
    after_end = lines[lines.index("event: end") :]
    end = json.loads(next(line for line in after_end if line.startswith("data: "))[6:])
    assert {name: end[name] for name in kept} == kept
