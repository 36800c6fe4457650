"""ModelStore: the one object the API and the workers use to reach the store on disk.

Layout under the root (docs/architecture.md, "Model store layout"):
datasets/, models/ (+ LATEST), jobs/ (+ .cancel and .lock files), checkpoints/.
Each part lives in its own module; this class creates the directories and delegates.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection
from pathlib import Path
from typing import TYPE_CHECKING

from model_store.atomic import remove, write_atomic
from model_store.checkpoints import CheckpointFiles
from model_store.datasets import Dataset, DatasetFiles
from model_store.errors import StoreWriteError
from model_store.ids import model_id_for_job
from model_store.jobs import JobFiles
from model_store.models import ModelFiles

if TYPE_CHECKING:
    from model_store.trained_model import TrainedModel

SUBDIRECTORIES = ("datasets", "models", "jobs", "checkpoints")


class ModelStore:
    """Datasets, model snapshots with a LATEST pointer, job records and checkpoints under `root`.

    Safe to share between processes: every write is atomic, job changes are serialised by flock.
    Read methods never write.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        for name in SUBDIRECTORIES:
            try:
                (self.root / name).mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise StoreWriteError(
                    f"cannot create {self.root / name}: {error.strerror}"
                ) from error
        self._datasets = DatasetFiles(self.root / "datasets")
        self._models = ModelFiles(self.root / "models")
        self._jobs = JobFiles(self.root / "jobs")
        self._checkpoints = CheckpointFiles(self.root / "checkpoints")

    def __repr__(self) -> str:
        return f"ModelStore({str(self.root)!r})"

    def check_writable(self) -> None:
        """Raise StoreWriteError unless a file can be written (and removed) in every directory."""
        for name in SUBDIRECTORIES:
            probe = self.root / name / ".writable-probe"
            write_atomic(probe, b"ok\n", sync_dir=False)
            remove(probe)

    # Datasets

    def save_dataset(
        self, name: str, weight: object, height: object, label: object
    ) -> tuple[dict, bool]:
        """Store 1-D columns (label 1.0 = F, 0.0 = M); return (metadata, created).

        The id is derived from the rows, not the name: created is False if they were stored before.
        ValueError for empty or mismatched columns, non-finite values or labels other than 0/1.
        """
        return self._datasets.save(name, weight, height, label)

    def get_dataset(self, dataset_id: str) -> dict:
        """Metadata of a dataset (id, name, rows, counts, created_at); NotFound if absent."""
        return self._datasets.get(dataset_id)

    def load_dataset(self, dataset_id: str) -> Dataset:
        """The dataset as arrays: X (n, 2) [weight, height], y (n,)."""
        return self._datasets.load(dataset_id)

    def list_datasets(self) -> list[dict]:
        """Metadata of every dataset, newest first."""
        return self._datasets.list()

    # Models

    def save_snapshot(self, snapshot: dict) -> dict:
        """Validate and store a snapshot (InvalidSnapshot naming the field if it is unusable).

        Fills id (if absent), created_at and sha256 and returns the stored snapshot. Saving again
        under an existing id from the same training.job_id returns the stored one unchanged;
        any other existing id raises AlreadyExists.
        """
        return self._models.save(snapshot)

    def get_snapshot(self, model_id: str) -> dict:
        """The verified snapshot; NotFound, or CorruptSnapshot(model_id, reason)."""
        return self._models.get(model_id)

    def list_snapshots(self) -> list[dict]:
        """Summaries of every snapshot (status "ok" or "corrupt" with the error), newest first."""
        return self._models.list()

    def latest_model_id(self) -> str | None:
        """The id LATEST points to (not checked: the caller decides about a corrupt latest)."""
        return self._models.latest_id()

    def promote(self, model_id: str) -> None:
        """Make `model_id` the latest, after verifying it (NotFound / CorruptSnapshot)."""
        self._models.promote(model_id)

    def promotion_history(self, limit: int = 50) -> list[str]:
        """Ids promoted before, most recent first (the current latest among them), not verified."""
        return self._models.promotion_history(limit)

    def latest_version(self) -> tuple[int, int, int] | None:
        """(inode, mtime_ns, size) of LATEST or None: one stat, so callers can cache the model."""
        return self._models.latest_version()

    def watch_promotions(self) -> None:
        """Map the promotion signal for `promotion_token` (again, if its file was replaced)."""
        self._models.signal.watch()

    def promotion_token(self) -> bytes | None:
        """A token that changes with every `promote`, read from shared memory (no system call);
        None until `watch_promotions` has mapped it. Promotions by other means do not change it."""
        return self._models.signal.token()

    def load_model(self, model_id: str) -> TrainedModel:
        """The verified snapshot as a TrainedModel, ready to predict."""
        from model_store.trained_model import TrainedModel

        return TrainedModel.from_snapshot(self._models.get(model_id))

    @staticmethod
    def model_id_for_job(job_id: str) -> str:
        """The id of the one snapshot a job saves (deterministic, so retries cannot duplicate)."""
        return model_id_for_job(job_id)

    # Jobs

    def create_job(self, record: dict) -> dict:
        """Store a new job record in state "queued" (needs record["id"]; AlreadyExists if taken)."""
        return self._jobs.create(record)

    def get_job(self, job_id: str) -> dict:
        """The job record; NotFound if absent."""
        return self._jobs.get(job_id)

    def job_version(self, job_id: str) -> tuple[int, int, int] | None:
        """(inode, mtime_ns, size) of the job record or None: one stat, changes on every update."""
        return self._jobs.version(job_id)

    def job_versions(self) -> dict[str, tuple[int, int, int]]:
        """{job id: (inode, mtime_ns, size)} of every job record: one scan, for caches."""
        return self._jobs.versions()

    def update_job(self, job_id: str, **fields: object) -> dict:
        """Set fields on a job under its lock (safe across processes); return the new record."""
        return self._jobs.update(job_id, **fields)

    def transition_job(
        self, job_id: str, from_states: Collection[str], **fields: object
    ) -> dict | None:
        """Set fields only if the job's state is one of `from_states`; the new record, else None."""
        return self._jobs.transition(job_id, from_states, **fields)

    def modify_job(self, job_id: str, change: Callable[[dict], dict | None]) -> dict | None:
        """Read-modify-write under the job's lock.

        `change(record)` returns the fields to set, or None to leave the record alone; use it for
        changes that depend on the record, such as incrementing "attempts".
        """
        return self._jobs.modify(job_id, change)

    def list_jobs(self, limit: int = 100) -> list[dict]:
        """Up to `limit` job records, newest first; unreadable records are skipped."""
        return self._jobs.list(limit)

    def delete_job(self, job_id: str) -> None:
        """Remove a job whose task could not be sent (record, cancel marker, lock, checkpoint)."""
        self._jobs.delete(job_id)
        self._checkpoints.delete(job_id)

    def request_cancel(self, job_id: str) -> None:
        """Ask the worker running the job to stop; NotFound if no such job."""
        self._jobs.request_cancel(job_id)

    def cancel_requested(self, job_id: str) -> bool:
        """Whether cancellation was requested for the job."""
        return self._jobs.cancel_requested(job_id)

    # Checkpoints

    def save_checkpoint(self, job_id: str, data: dict) -> None:
        """Replace the job's checkpoint (TrainingState.to_dict() and whatever the job needs)."""
        self._checkpoints.save(job_id, data)

    def load_checkpoint(self, job_id: str) -> dict | None:
        """The job's checkpoint, or None if it has none (or it is unreadable)."""
        return self._checkpoints.load(job_id)

    def delete_checkpoint(self, job_id: str) -> None:
        """Remove the job's checkpoint if any."""
        self._checkpoints.delete(job_id)
