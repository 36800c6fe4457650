"""ModelStore: the one object the API, the workers and the CLI use to reach the store.

Metadata lives in a SQL database (`database_url`: SQLite on one machine, PostgreSQL for many),
blobs in an object store (`objects`: a local directory, or `s3://bucket/prefix`), the way
MLflow keeps its backend store apart from its artifact store. The store never reads the
environment: it is given both locations. Every blob is written before the row that names it.

Its repositories are attributes, called directly: `store.datasets`, `store.models`
(with their promotions), `store.aliases` (the names promotions give models), `store.jobs`
(with their leases), `store.sweeps` (many jobs over a grid or search space),
`store.checkpoints`, `store.batches` (batch predictions and their chunks) and `store.events`
(every change of the registry, in the order it committed). The store itself only does what spans
several of them, or none: opening, closing, checking.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import sqlalchemy as sa

from model_store.aliases import AliasTable
from model_store.batch_deletion import delete_batch
from model_store.batches import BatchTable
from model_store.checkpoints import Checkpoints
from model_store.database import make_engine, sqlite_url_for
from model_store.datasets import DatasetTable
from model_store.errors import StoreWriteError
from model_store.events import EventTable
from model_store.jobs import JobTable
from model_store.models import ModelTable
from model_store.objects import ObjectStore, open_objects
from model_store.schema import require_current
from model_store.sweeps import SweepTable

if TYPE_CHECKING:
    from foundation.settings import Settings
    from foundation.states import JobState


class ModelStore:
    """Datasets, models and their promotions, jobs with leases, and checkpoints."""

    def __init__(self, database_url: str, objects: str | os.PathLike[str] | ObjectStore) -> None:
        self.database_url = database_url
        self.engine = make_engine(database_url)
        self.objects = open_objects(objects) if isinstance(objects, str | os.PathLike) else objects
        self.datasets = DatasetTable(self.engine, self.objects)
        self.models = ModelTable(self.engine, self.objects)
        self.aliases = AliasTable(self.engine, self.models)
        self.jobs = JobTable(self.engine)
        self.sweeps = SweepTable(self.engine)
        self.checkpoints = Checkpoints(self.objects)
        self.batches = BatchTable(self.engine)
        self.events = EventTable(self.engine)

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

    def purge_job(self, job_id: str) -> JobState | None:
        """Remove a finished job's record and then its checkpoint: None if removed, else the
        state of the unfinished job, which stays (cancel it first). NotFound if absent."""
        unfinished = self.jobs.delete_finished(job_id)
        if unfinished is None:
            self.checkpoints.delete(job_id)
        return unfinished

    def delete_batch(self, batch_id: str) -> JobState | None:
        """Remove an ended batch prediction's record, chunks and objects (or finish a deletion
        cut short): None if removed, else the state of the queued or running batch, which
        stays (cancel it first). NotFound if absent (`model_store.batch_deletion`)."""
        return delete_batch(self.batches, self.objects, batch_id)

    def delete_job(self, job_id: str) -> None:
        """Remove a job whose task could not be sent: its row and any checkpoint."""
        self.jobs.delete(job_id)
        self.checkpoints.delete(job_id)
