"""Outages of the store while jobs run, for real: a job waits them out instead of failing.

On PostgreSQL + SeaweedFS (servers of the test's own, so that stopping them disturbs nobody
else): the database stopped for 30 s, then the S3 server killed for 30 s, each while a job runs
under a real worker. The job ends `succeeded` on its first attempt (it kept its lease), with
exactly one snapshot bit-identical to an uninterrupted run; a job sent during the outage succeeds
after it. On the one-machine store (SQLite + a local directory): checkpoints that cannot be written
(the checkpoints directory mounted read-only for a while) do not fail the job, and a job whose
snapshot cannot be written for longer than NNSERVICE_OUTAGE_SECONDS is left to the reaper, which
requeues it (it resumes from its checkpoint) or fails it once its attempts are spent.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import backends
import boto3
import numpy as np
import pytest
import stores

from foundation.settings import Settings
from model_store import JobRecord, ModelStore, NotFound
from model_store.database import make_engine
from model_store.objects import LocalObjects
from model_store.schema import upgrade
from service.schemas.train import DEFAULT_HYPERPARAMETERS
from worker.celery_config import make_celery
from worker.names import TRAIN_TASK
from worker.outage import MAX_DELAY, OutageClock, OutageGrace, OutageTooLong
from worker.training_job import lease_seconds, run_training_job

pytestmark = [pytest.mark.fault, pytest.mark.timeout(240)]

#: How long each outage lasts: longer than a lease (10 s here), shorter than the window.
OUTAGE_SECONDS = 30.0
#: Several seconds of training (checkpoints every 200 epochs): the outage strikes mid-run.
LONG_JOB = {**DEFAULT_HYPERPARAMETERS, "epochs": 10_000, "seed": 42, "validation_fraction": 0.2}
#: A job sent during the outage.
SHORT_JOB = {**DEFAULT_HYPERPARAMETERS, "epochs": 500, "seed": 7}
#: The bucket of the test's own S3 server.
BUCKET = "nnservice-outages"


def _people(n: int = 1000) -> dict[str, np.ndarray]:
    """n people, half F and half M, drawn once from a fixed generator."""
    rng = np.random.default_rng(2024)
    half = n // 2
    return {
        "weight": np.r_[rng.normal(135, 12, half), rng.normal(175, 15, half)],
        "height": np.r_[rng.normal(64, 2.5, half), rng.normal(70, 3, half)],
        "label": np.r_[np.ones(half), np.zeros(half)],
    }


def _create_job(store: ModelStore, hyperparameters: dict) -> str:
    info, _ = store.datasets.save("people", **_people())
    job_id = uuid.uuid4().hex
    store.jobs.create({"id": job_id, "dataset_id": info.id, "hyperparameters": hyperparameters})
    return job_id


def _parameters(store: ModelStore, model_id: str) -> list[np.ndarray]:
    snapshot = store.models.snapshot(model_id)
    return [np.array(a) for a in snapshot["weights"] + snapshot["biases"]]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> list[np.ndarray]:
    """The weights of an uninterrupted run of the long job, trained in this process."""
    settings = Settings(store_path=tmp_path_factory.mktemp("reference"), checkpoint_seconds=3600.0)
    upgrade(settings.store_database_url)
    store = ModelStore.from_settings(settings)
    job_id = _create_job(store, LONG_JOB)
    assert run_training_job(store, job_id, settings) == "succeeded"
    weights = _parameters(store, store.jobs.get(job_id).model_id)
    store.close()
    return weights


def _assert_like_reference(
    store: ModelStore, record: JobRecord, reference: list[np.ndarray], attempts: int = 1
) -> None:
    """Succeeded (on its first attempt: it kept its lease through the outage), one snapshot,
    the reference's weights, no checkpoint left."""
    assert record.state == "succeeded", record.error
    assert record.attempts == attempts, record
    resumed = _parameters(store, record.model_id)
    assert all(np.array_equal(a, b) for a, b in zip(reference, resumed, strict=True))
    mine = [m for m in store.models.list(limit=1000).items if m.job_id == record.id]
    assert [m.id for m in mine] == [record.model_id]
    assert store.checkpoints.load(record.id) is None


# PostgreSQL + SeaweedFS, under a real worker


@pytest.fixture
def servers(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, backends.SeaweedFS]]:
    """A PostgreSQL and an S3 server of this test's own: (database URL, the S3 server). The AWS
    variables that reach the server are set for this process and the stack's."""
    stores.skip_without_servers()
    database_url, stop_postgres = backends.start_postgres("nnservice_outages")
    try:
        s3 = backends.start_seaweedfs_server(BUCKET)
        try:
            for name, value in s3.env.items():
                monkeypatch.setenv(name, value)
            # boto3's default session keeps the credentials it first found: a new one, so
            # that this test's and the next tests' clients find their own.
            boto3.setup_default_session()
            upgrade(database_url)
            yield database_url, s3
        finally:
            s3.stop()
            boto3.setup_default_session()
    finally:
        stop_postgres()


@pytest.fixture
def outage_stack(servers: tuple[str, backends.SeaweedFS], stack_factory):
    """Broker, worker (two pool processes) and API on the test's own servers."""
    database_url, _ = servers
    stack = stack_factory(
        NNSERVICE_DATABASE_URL=database_url, NNSERVICE_OBJECT_STORE=f"s3://{BUCKET}/store"
    )
    try:
        yield stack
    finally:
        stack.close()


@contextlib.contextmanager
def _sender(stack) -> Iterator[Callable[[str], None]]:
    """Sends a job's task to the stack's broker (the job's row is already in the store)."""
    app = make_celery(Settings(redis_url=stack.redis_url))
    try:
        yield lambda job_id: app.send_task(TRAIN_TASK, kwargs={"job_id": job_id}, task_id=job_id)
    finally:
        app.close()


def _running_with_a_checkpoint(store: ModelStore, job_id: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = store.jobs.get(job_id)
        assert record.state in ("queued", "running"), record
        if record.state == "running" and store.checkpoints.load(job_id):
            return
        time.sleep(0.02)
    raise TimeoutError(f"job {job_id} never ran with a checkpoint: {record}")


def _hold_the_outage(stack, began: float, waiting: dict[str, str]) -> None:
    """Keep the outage on for OUTAGE_SECONDS and until the worker's log shows each job of
    `waiting` meeting it (a line with its id and the given words); the worker stays up."""
    log = stack.root / "worker.log"
    while True:
        assert stack.worker.poll() is None, f"the worker exited; see {log}"
        lines = log.read_text(errors="replace").splitlines()
        met = all(
            any(job_id in line and words in line for line in lines)
            for job_id, words in waiting.items()
        )
        elapsed = time.monotonic() - began
        if met and elapsed >= OUTAGE_SECONDS:
            return
        assert elapsed < OUTAGE_SECONDS + 60, f"the jobs never met the outage: see {log}"
        time.sleep(0.2)


def _succeeded_first_time(stack, job_id: str) -> JobRecord:
    record = stack.wait_for_record(job_id, timeout=90)
    assert record.state == "succeeded", record.error
    assert record.attempts == 1, record
    return record


def test_a_database_outage_costs_no_job(outage_stack, servers, reference) -> None:
    """PostgreSQL stopped for 30 s: the running job trains on, waits to save, keeps its lease;
    a job sent meanwhile is taken once the database is back."""
    stack, (database_url, _) = outage_stack, servers
    running = _create_job(stack.store, LONG_JOB)
    later = _create_job(stack.store, SHORT_JOB)  # its row is written before: the API needs one
    with _sender(stack) as send:
        send(running)
        _running_with_a_checkpoint(stack.store, running)
        resume = backends.stop_postgres_server(database_url)
        began = time.monotonic()
        try:
            send(later)
            _hold_the_outage(stack, began, {running: "unreachable", later: "unreachable"})
        finally:
            resume()

    _assert_like_reference(stack.store, stack.wait_for_record(running, timeout=90), reference)
    _succeeded_first_time(stack, later)


def test_an_object_store_outage_costs_no_job(outage_stack, servers, reference) -> None:
    """The S3 server killed for 30 s: the running job trains on without checkpoints; a job sent
    meanwhile waits for its dataset, keeping its lease, and trains once the server is back."""
    stack, (_, s3) = outage_stack, servers
    running = _create_job(stack.store, LONG_JOB)
    later = _create_job(stack.store, SHORT_JOB)
    with _sender(stack) as send:
        send(running)
        _running_with_a_checkpoint(stack.store, running)
        s3.kill()
        began = time.monotonic()
        try:
            send(later)
            _hold_the_outage(stack, began, {running: "not written", later: "unreachable"})
        finally:
            s3.restart(BUCKET)

    _assert_like_reference(stack.store, stack.wait_for_record(running, timeout=90), reference)
    _succeeded_first_time(stack, later)


# SQLite + a local directory, in this process


@pytest.fixture
def local_settings(tmp_path: Path) -> Settings:
    """The one-machine store; checkpoints every 200 epochs, progress every 0.1 s."""
    settings = Settings(
        store_path=tmp_path / "store",
        checkpoint_seconds=3600.0,
        checkpoint_epochs=200,
        progress_seconds=0.1,
        visibility_timeout=1,  # the shortest lease: 10 s
    )
    upgrade(settings.store_database_url)
    return settings


@contextlib.contextmanager
def _read_only(directory: Path) -> Iterator[Callable[[], None]]:
    """`directory` bind-mounted read-only over itself (writes there fail with EROFS) until the
    block ends or the function it yields is called."""
    if os.geteuid() != 0:
        pytest.skip("a read-only bind mount needs root")
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "--bind", str(directory), str(directory)], check=True)
    mounted = True

    def lift() -> None:
        nonlocal mounted
        if mounted:
            subprocess.run(["umount", str(directory)], check=True)
            mounted = False

    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(directory)], check=True)
        yield lift
    finally:
        lift()


def test_checkpoints_that_cannot_be_written_do_not_fail_the_job(
    local_settings: Settings, reference, caplog: pytest.LogCaptureFixture
) -> None:
    """The checkpoints directory read-only for the first half of the run: each checkpoint then
    is only logged, training goes on, and the first one after is written."""
    caplog.set_level(logging.INFO, logger="worker.training_job")
    store = ModelStore.from_settings(local_settings)
    job_id = _create_job(store, LONG_JOB)
    halfway = LONG_JOB["epochs"] // 2
    with _read_only(Path(local_settings.store_objects) / "checkpoints") as lift:
        epochs = 0

        def lift_halfway() -> bool:  # asked once after every epoch
            nonlocal epochs
            epochs += 1
            if epochs == halfway:
                lift()
            return False

        outcome = run_training_job(store, job_id, local_settings, stop_requested=lift_halfway)
        assert outcome == "succeeded"

    record = store.jobs.get(job_id)
    assert record.state == "succeeded", record.error
    assert "the checkpoint after epoch 200 was not written" in caplog.text
    assert "Read-only file system" in caplog.text
    failed = halfway // local_settings.checkpoint_epochs - 1  # epochs 200 ... halfway - 200
    assert f"checkpoint written again after {failed} that were not" in caplog.text
    _assert_like_reference(store, record, reference)
    store.close()


@pytest.mark.parametrize("max_attempts", [3, 1])
def test_past_the_window_the_job_is_left_to_the_reaper(
    local_settings: Settings, reference, max_attempts: int
) -> None:
    """The models directory read-only for longer than NNSERVICE_OUTAGE_SECONDS: the job is not
    failed but left running to the reaper, which requeues it once its lease has run out (it then
    resumes from its last checkpoint) or fails it when its attempts are spent."""
    settings = local_settings.model_copy(
        update={"outage_seconds": 2.0, "max_attempts": max_attempts}
    )
    lease = lease_seconds(settings.visibility_timeout)
    store = ModelStore.from_settings(settings)
    job_id = _create_job(store, LONG_JOB)
    with _read_only(Path(settings.store_objects) / "models"):
        assert run_training_job(store, job_id, settings) == "released"

    record = store.jobs.get(job_id)
    assert (record.state, record.error, record.model_id) == ("running", None, None)
    assert store.checkpoints.load(job_id)["epochs_done"] == LONG_JOB["epochs"] - 200
    deadline = time.monotonic() + 30
    while record.state == "running":  # the reaper's passes, until the lease has run out
        assert time.monotonic() < deadline, record
        store.jobs.reap(lease, max_attempts, resend_after=lease)
        record = store.jobs.get(job_id)
        time.sleep(0.2)

    if max_attempts == 1:
        assert record.state == "failed" and "lost 1 times (limit 1)" in record.error
    else:
        assert (record.state, record.attempts) == ("queued", 1)
        assert run_training_job(store, job_id, settings) == "succeeded"
        _assert_like_reference(store, store.jobs.get(job_id), reference, attempts=2)
    store.close()


def test_ride_out_retries_until_the_store_answers_and_gives_up_after_the_window(
    tmp_path: Path,
) -> None:
    objects = LocalObjects(tmp_path / "objects")
    clock = OutageClock(window=60.0)
    pauses = 0
    with _read_only(objects.root / "checkpoints") as lift:

        def pause() -> None:  # between two tries: the third pause ends the outage
            nonlocal pauses
            pauses += 1
            if pauses == 3:
                lift()

        clock.ride_out("writing", lambda: objects.put("checkpoints/j.json", b"{}"), pause)
    assert pauses == 3 and objects.get("checkpoints/j.json") == b"{}"
    assert clock.since is None and clock.failures == 0

    with pytest.raises(NotFound):  # not an outage: at once, no pause
        clock.ride_out("reading", lambda: objects.get("checkpoints/absent.json"), pause)
    assert pauses == 3

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    engine = make_engine(f"postgresql+psycopg://nobody@127.0.0.1:{closed}/nowhere")
    began = time.monotonic()
    with pytest.raises(OutageTooLong, match="unreachable for 1 s while connecting"):
        OutageClock(window=1.0).ride_out("connecting", lambda: engine.connect().close())
    # The window, then at most one pause and one more try (a refused connection is quick).
    assert 1.0 <= time.monotonic() - began < 1.0 + MAX_DELAY + 1.0
    engine.dispose()


def test_the_grace_covers_the_outage_and_one_lease_after_it() -> None:
    """An owner alive at the last success before the outage is not lost until a lease after
    the first success again; before and after that, a lease is a lease."""
    grace, lease = OutageGrace(), 10.0
    grace.succeeded(now=100.0)
    assert grace.seconds(lease, now=101.0) == 0.0
    grace.failed()
    grace.failed()
    assert grace.failing and grace.seconds(lease, now=130.0) == 30.0
    grace.succeeded(now=131.0)
    assert not grace.failing and grace.seconds(lease, now=140.0) == 40.0
    assert grace.seconds(lease, now=141.0) == 0.0
    assert grace.seconds(lease, now=150.0) == 0.0
