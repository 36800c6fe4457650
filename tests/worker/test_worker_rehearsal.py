"""A pool child's start-up rehearsal runs the whole job path on a temporary store and leaves
nothing behind, in the real store or in the temporary directory."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from model_store import ModelStore
from nnservice.config import Settings
from worker import rehearsal


def test_the_rehearsal_job_succeeds_and_leaves_nothing(
    settings: Settings, store: ModelStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    temp_root = tmp_path / "tmp"
    temp_root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp_root))
    ran: list[str] = []
    real = rehearsal.run_training_job

    def spy(store_: ModelStore, job_id: str, settings_: Settings) -> str:
        outcome = real(store_, job_id, settings_)
        record = store_.get_job(job_id)
        ran.append(record["state"])
        assert store_.latest_model_id() == record["model_id"]  # trained, saved and promoted
        return outcome

    monkeypatch.setattr(rehearsal, "run_training_job", spy)
    assert rehearsal.rehearse_job(settings) is True
    assert ran == ["succeeded"]
    assert list(temp_root.iterdir()) == []
    assert store.list_jobs() == [] and store.latest_model_id() is None


def test_a_failing_rehearsal_is_logged_not_raised(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*_: object) -> str:
        raise OSError("disk full")

    monkeypatch.setattr(rehearsal, "run_training_job", broken)
    assert rehearsal.rehearse_job(settings) is False
    assert "rehearsal job failed" in caplog.text
