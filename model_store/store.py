"""ModelStore: the one object the API, the workers and the CLI use to reach the store.

Metadata lives in a SQL database (`database_url`: SQLite on one machine, PostgreSQL for many),
blobs in an object store (`objects`: a local directory, or `s3://bucket/prefix`), the way
MLflow keeps its backend store apart from its artifact store. The store never reads the
environment: it is given both locations. Every blob is written before the row that names it.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from typing import TYPE_CHECKING

import sqlalchemy as sa

from foundation.limits import DEFAULT_PAGE_SIZE
from model_store.canonical import canonical_json, parse_json, snapshot_sha256
from model_store.database import make_engine, sqlite_url_for
from model_store.datasets import Dataset, DatasetTable
from model_store.errors import (
    AlreadyExists,
    CorruptSnapshot,
    NotFound,
    StoreError,
    StoreWriteError,
)
from model_store.ids import model_id_for_job, validate_id
from model_store.jobs import Claim, JobTable, Repairs
from model_store.models import ANONYMOUS, LATEST, ModelTable
from model_store.objects import ObjectStore, open_objects
from model_store.pages import Page
from model_store.schema import require_current
from model_store.times import from_iso

if TYPE_CHECKING:
    from foundation.settings import Settings
    from model_store.trained_model import TrainedModel


def checkpoint_key(job_id: str) -> str:
    return f"checkpoints/{validate_id(job_id)}.json"


class ModelStore:
    """Datasets, model snapshots and their promotions, jobs with leases, and checkpoints."""

    def __init__(self, database_url: str, objects: str | os.PathLike[str] | ObjectStore) -> None:
        self.database_url = database_url
        self.engine = make_engine(database_url)
        self.objects = open_objects(objects) if isinstance(objects, str | os.PathLike) else objects
        self._datasets = DatasetTable(self.engine, self.objects)
        self._models = ModelTable(self.engine, self.objects)
        self._jobs = JobTable(self.engine)

    @classmethod
    def in_directory(cls, root: str | os.PathLike[str]) -> ModelStore:
        """The one-machine store: `root/nnservice.db` (SQLite) and `root/objects`."""
        return cls(sqlite_url_for(root), os.path.join(os.fspath(root), "objects"))

    @classmethod
    def from_settings(cls, settings: Settings) -> ModelStore:
        """The store `settings` name (a new engine: one per process is enough)."""
        return cls(settings.store_database_url, settings.store_objects)

    def __repr__(self) -> str:
        url = self.engine.url.render_as_string(hide_password=True)
        return f"ModelStore({url!r}, {self.objects!r})"

    def close(self) -> None:
        """Close the database connections this process holds."""
        self.engine.dispose()

    def require_current_schema(self) -> None:
        """SchemaOutOfDate (naming `nnservice db upgrade`) unless the database is up to date."""
        require_current(self.engine)

    def check_writable(self) -> None:
        """Raise StoreWriteError unless the database and the object store both take a write."""
        try:
            with self.engine.begin() as connection:
                connection.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError as error:
            raise StoreWriteError(f"the database does not answer: {error}") from error
        self.objects.check_writable()

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

    def list_datasets(self, limit: int = DEFAULT_PAGE_SIZE, page_token: str | None = None) -> Page:
        """One page of dataset metadata, newest first."""
        return self._datasets.list(limit, page_token)

    # Models

    def save_snapshot(self, snapshot: dict, *, imported: bool = False) -> dict:
        """Validate and store a snapshot (InvalidSnapshot naming the field if it is unusable).

        Fills id (if absent), created_at and sha256 and returns the stored snapshot. Saving again
        under an existing id from the same training.job_id returns the stored one unchanged;
        any other taken id, or one reserved for a job's model, raises AlreadyExists. A client's
        snapshot (`imported=True`, POST /models) never gets a taken or reserved id, even if its
        training.job_id names the job.
        """
        return self._models.save(snapshot, imported=imported)

    def get_snapshot(self, model_id: str) -> dict:
        """The verified snapshot; NotFound, or CorruptSnapshot(model_id, reason)."""
        return self._models.get(model_id)

    def get_model_summary(self, model_id: str) -> dict:
        """The listing entry of one model; NotFound if absent."""
        return self._models.summary(model_id)

    def list_snapshots(
        self,
        limit: int = DEFAULT_PAGE_SIZE,
        page_token: str | None = None,
        dataset_id: str | None = None,
    ) -> Page:
        """One page of model summaries, newest first (status "corrupt" once a read failed)."""
        return self._models.list(limit, page_token, dataset_id)

    def latest_model_id(self, alias: str = LATEST) -> str | None:
        """The id the newest promotion names (not checked: the caller decides about a corrupt
        one)."""
        return self._models.latest_id(alias)

    def latest_promotion(self, alias: str = LATEST) -> tuple[int, str] | None:
        """(sequence number, model id) of the newest promotion: what API processes poll."""
        return self._models.latest_promotion(alias)

    def promote(
        self, model_id: str, promoted_by: str = ANONYMOUS, *, verified: bool = False
    ) -> None:
        """Make `model_id` the latest, after verifying it (NotFound / CorruptSnapshot) unless
        the caller has just saved it."""
        self._models.promote(model_id, promoted_by, verified=verified)

    def promotion_history(self, limit: int = 50) -> list[str]:
        """Distinct ids promoted before, most recent first (the current latest among them)."""
        return self._models.promoted_ids(limit)

    def promotions(self, limit: int = 50) -> list[dict]:
        """The newest promotions first: model_id, promoted_at, promoted_by."""
        return self._models.history(limit)

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
        """Store a new job in state "queued" (needs record["id"]; AlreadyExists if taken)."""
        return self._jobs.create(record)

    def get_job(self, job_id: str) -> dict:
        """The job record; NotFound if absent."""
        return self._jobs.get(job_id)

    def job_version(self, job_id: str) -> int | None:
        """A number that changes with every change of the job; None if there is no such job."""
        return self._jobs.version(job_id)

    def job_versions(self, job_ids: Collection[str]) -> dict[str, int]:
        """The version of each existing job of `job_ids`, in one query (see `JobTable.versions`)."""
        return self._jobs.versions(job_ids)

    def list_jobs(
        self,
        limit: int = DEFAULT_PAGE_SIZE,
        page_token: str | None = None,
        *,
        state: str | None = None,
        dataset_id: str | None = None,
    ) -> Page:
        """One page of job records, newest first, optionally of one state and/or dataset."""
        return self._jobs.list(limit, page_token, state=state, dataset_id=dataset_id)

    def transition_job(
        self, job_id: str, from_states: Collection[str], **fields: object
    ) -> dict | None:
        """Set fields only if the job's state is one of `from_states`; the new record, else None."""
        return self._jobs.transition(job_id, from_states, **fields)

    def delete_job(self, job_id: str) -> None:
        """Remove a job whose task could not be sent (its row and any checkpoint)."""
        self._jobs.delete(job_id)
        self.delete_checkpoint(job_id)

    def request_cancel(self, job_id: str) -> dict:
        """Ask the worker running the job to stop; NotFound if no such job."""
        return self._jobs.request_cancel(job_id)

    def cancel_requested(self, job_id: str) -> bool:
        """Whether cancellation was requested for the job."""
        return self._jobs.cancel_requested(job_id)

    def mark_job_sent(self, job_id: str) -> None:
        """Note that the job's task was (re-)sent to the broker now."""
        self._jobs.mark_sent(job_id)

    def claim_job(self, job_id: str, owner: str, lease_seconds: float, max_attempts: int) -> Claim:
        """Take the job for `owner` if nobody live runs it (see `model_store.jobs.Claim`)."""
        return self._jobs.claim(job_id, owner, lease_seconds, max_attempts)

    def heartbeat(self, job_id: str, owner: str, **fields: object) -> bool | None:
        """Refresh `owner`'s lease, setting `fields`: None if the job is no longer its, else
        whether cancellation was asked for."""
        return self._jobs.heartbeat(job_id, owner, **fields)

    def finish_job(self, job_id: str, owner: str, state: str, **fields: object) -> dict | None:
        """End the job in a final state if `owner` still runs it: the record, else None."""
        return self._jobs.finish(job_id, owner, state, **fields)

    def release_job(self, job_id: str, owner: str) -> dict | None:
        """Put `owner`'s running job back in the queue (graceful shutdown)."""
        return self._jobs.release(job_id, owner)

    def reap_jobs(self, lease_seconds: float, max_attempts: int, resend_after: float) -> Repairs:
        """One pass of the reaper (`model_store.jobs.JobTable.reap`)."""
        return self._jobs.reap(lease_seconds, max_attempts, resend_after)

    def job_counts(self) -> dict[str, int]:
        """{state: number of jobs}, from one aggregate query."""
        return self._jobs.counts()

    def training_duration_histogram(self) -> dict[str, tuple[list[int], int, float]]:
        """Per final state: (cumulative counts at `tables.DURATION_BOUNDS`, count, sum) of
        finished jobs' training seconds, kept up to date as jobs finish."""
        return self._jobs.duration_histogram()

    # Importing another store's records as they were

    def import_dataset(self, record: dict) -> bool:
        """Store a dataset record of the file store (columns and metadata); False if present."""
        _, created = self._datasets.save(
            record["name"],
            record["weight"],
            record["height"],
            record["label"],
            created_us=from_iso(record.get("created_at")),
        )
        return created

    def import_snapshot(self, snapshot: dict) -> bool:
        """Store a snapshot with its own created_at (so its sha256 stays); False if present,
        CorruptSnapshot if its sha256 does not match its content (it was damaged)."""
        model_id = validate_id(snapshot.get("id"))
        if snapshot.get("sha256") != snapshot_sha256(snapshot):
            raise CorruptSnapshot(model_id, "sha256 does not match the content")
        try:
            self._models.summary(model_id)
            return False  # a job's own snapshot would otherwise be "saved" again
        except NotFound:
            pass
        try:
            self._models.save(snapshot, created_us=from_iso(snapshot.get("created_at")))
        except AlreadyExists:
            return False
        return True

    def import_job(self, record: dict) -> bool:
        """Store a job record as it was (unfinished ones queued again); False if present."""
        return self._jobs.insert_imported(record)

    def promotions_by(self, promoted_by: str) -> int:
        """How many promotions `promoted_by` made (an import looks before it adds its own)."""
        return self._models.count_promotions_by(promoted_by)

    # Checkpoints

    def save_checkpoint(self, job_id: str, data: dict) -> None:
        """Replace the job's checkpoint (ValueError if it holds NaN or Infinity)."""
        self.objects.put(checkpoint_key(job_id), canonical_json(data))

    def load_checkpoint(self, job_id: str) -> dict | None:
        """The job's checkpoint, or None if it has none or it is unreadable (then the job
        starts over, which is always correct, only slower)."""
        key = checkpoint_key(job_id)  # InvalidId for a bad id, as everywhere else
        try:
            data = parse_json(self.objects.get(key))
        except (NotFound, StoreError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def delete_checkpoint(self, job_id: str) -> None:
        """Remove the job's checkpoint if any."""
        self.objects.delete(checkpoint_key(job_id))
