"""A job with early stopping, run by run_training_job on a real store (each backend): it stops on
a plateau, keeps the best epoch (weights, metrics and loss: those of a job of exactly that many
epochs), says so in its record and snapshot, carries early stopping in its checkpoint and
resumes to the bit; without validation rows it fails saying why."""

from __future__ import annotations

import numpy as np
import pytest

from model_store import ModelStore
from worker.training_job import TrainingInterrupted, run_training_job

EARLY = {
    "epochs": 2000,
    "seed": 3,
    "validation_fraction": 0.2,
    "early_stopping_patience": 20,
    "early_stopping_min_delta": 0.001,
}


@pytest.fixture
def people(store: ModelStore) -> str:
    """200 people, half F and half M, drawn from a fixed generator; the dataset's id."""
    rng = np.random.default_rng(2024)
    info, _ = store.datasets.save(
        "people",
        np.r_[rng.normal(135, 12, 100), rng.normal(175, 15, 100)],
        np.r_[rng.normal(64, 2.5, 100), rng.normal(70, 3, 100)],
        np.r_[np.ones(100), np.zeros(100)],
    )
    return info.id


def _parameters(store: ModelStore, model_id: str) -> list[np.ndarray]:
    snapshot = store.models.snapshot(model_id)
    return [np.array(a) for a in snapshot["weights"] + snapshot["biases"]]


def _same(store: ModelStore, a: str, b: str) -> bool:
    pairs = zip(_parameters(store, a), _parameters(store, b), strict=True)
    return all(np.array_equal(x, y) for x, y in pairs)


def test_stops_on_a_plateau_and_keeps_the_best_epoch(store, settings, make_job, people) -> None:
    job_id = make_job(people, **EARLY)

    assert run_training_job(store, job_id, settings) == "succeeded"

    job = store.jobs.get(job_id)
    stopped, best = job.stopped_epoch, job.best_epoch
    assert stopped is not None and stopped < EARLY["epochs"]
    assert best == stopped - EARLY["early_stopping_patience"]
    assert job.progress["epoch"] == len(job.loss_history) == stopped
    assert job.progress["loss"] == job.loss_history[best - 1], "the kept weights' loss"
    training = store.models.snapshot(job.model_id)["training"]
    assert (training["stopped_epoch"], training["best_epoch"]) == (stopped, best)
    assert training["epochs"] == stopped and training["final_loss"] == job.loss_history[best - 1]

    # A job of exactly `best` epochs, without early stopping, gives the same model.
    plain = {**EARLY, "epochs": best, "early_stopping_patience": None}
    exactly = store.jobs.get(make_job(people, promote=False, **plain))
    assert run_training_job(store, exactly.id, settings) == "succeeded"
    exactly = store.jobs.get(exactly.id)
    assert _same(store, job.model_id, exactly.model_id)
    assert job.metrics == exactly.metrics
    assert exactly.stopped_epoch is None and exactly.best_epoch is None


def test_an_interrupted_job_resumes_its_early_stopping_to_the_bit(
    store, settings, make_job, people, caplog
) -> None:
    reference, job_id = make_job(people, **EARLY), make_job(people, promote=False, **EARLY)
    run_training_job(store, reference, settings)
    expected = store.jobs.get(reference)
    after_best = expected.best_epoch + 5  # the resumed run never sees its best epoch again

    def stop() -> bool:
        return store.jobs.get(job_id).progress["epoch"] >= after_best

    with pytest.raises(TrainingInterrupted):
        run_training_job(store, job_id, settings, stop_requested=stop)
    saved = store.checkpoints.load(job_id)
    assert after_best <= saved["epochs_done"] < expected.stopped_epoch
    assert saved["early_stopping"]["best_epoch"] == expected.best_epoch

    with caplog.at_level("INFO", logger="worker.training_job"):
        assert run_training_job(store, job_id, settings) == "succeeded"

    assert f"job {job_id}: resuming after epoch {saved['epochs_done']}" in caplog.messages
    resumed = store.jobs.get(job_id)
    assert _same(store, expected.model_id, resumed.model_id)
    assert (resumed.stopped_epoch, resumed.best_epoch, resumed.metrics) == (
        expected.stopped_epoch,
        expected.best_epoch,
        expected.metrics,
    )
    assert resumed.loss_history == expected.loss_history


def test_without_validation_rows_the_job_fails_saying_why(store, settings, make_job) -> None:
    # A tenth of the seed's four people rounds to no row at all.
    job_id = make_job(validation_fraction=0.1, early_stopping_patience=5)

    assert run_training_job(store, job_id, settings) == "failed"

    error = store.jobs.get(job_id).error
    assert error.startswith("preparing the data failed: early_stopping_patience needs validation")
    assert "validation_fraction 0.1 of 4 rows holds out none" in error
