"""A pool child's start-up rehearsal runs the whole job path, through the train task, on a
temporary store and leaves nothing behind, in the real store, the temporary directory or the
environment."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import pytest

from model_store import ModelStore
from nnservice.config import STORE_VARIABLE, Settings
from worker import rehearsal, tasks


def test_the_rehearsal_job_succeeds_and_leaves_nothing(
    settings: Settings, store: ModelStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    temp_root = tmp_path / "tmp"
    temp_root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp_root))
    monkeypatch.setenv(STORE_VARIABLE, str(settings.store_path))
    ran: list[tuple[str, Path]] = []
    real = tasks.run_training_job

    def spy(store_: ModelStore, job_id: str, settings_: Settings, **kwargs: object) -> str:
        outcome = real(store_, job_id, settings_, **kwargs)
        record = store_.get_job(job_id)
        ran.append((record["state"], store_.root.parent))
        assert store_.latest_model_id() == record["model_id"]  # trained, saved and promoted
        return outcome

    monkeypatch.setattr(tasks, "run_training_job", spy)  # what the train task calls
    assert rehearsal.rehearse_job() is True
    assert ran == [("succeeded", temp_root)]  # through the task, on a store in the temp dir
    assert list(temp_root.iterdir()) == []
    assert store.list_jobs() == [] and store.latest_model_id() is None
    assert os.environ[STORE_VARIABLE] == str(settings.store_path)  # put back


def test_a_failing_rehearsal_is_logged_not_raised(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*_: object) -> str:
        raise OSError("disk full")

    monkeypatch.setattr(tasks, "run_training_job", broken)
    assert rehearsal.rehearse_job() is False
    assert "rehearsal job failed" in caplog.text


def test_a_real_worker_rehearses_in_each_child_and_warms_its_consumer(stack) -> None:
    """In the session's worker (2 pool children, INFO logs): each child ran the rehearsal job
    through the train task, and the main process sent itself the no-op `nnservice.warm`, which
    a child ran. (Inside a worker process Celery refuses a result's `.get()`, which a test of
    `rehearse_job` alone, outside a worker, cannot show.)"""

    def warmed(log: str) -> bool:
        rehearsed = log.count("Task nnservice.train[rehearsal] succeeded") >= 2
        return rehearsed and "] succeeded" in log.partition("Task nnservice.warm[")[2]

    deadline = time.monotonic() + 60  # the stack answers before its worker's warm task has run
    while not warmed(log := (stack.root / "worker.log").read_text()):
        assert time.monotonic() < deadline, log[-3000:]
        time.sleep(0.2)
    assert "rehearsal job failed" not in log
