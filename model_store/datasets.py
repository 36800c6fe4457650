"""Datasets: checked columns, their content id, and their blob (a `.npy` array) and row.

A dataset is immutable and content-addressed: its id is derived from its rows (not its name),
so storing the same rows twice finds the first copy. The blob is written create-only before the
row that names it commits; a failed write leaves no row, and a blob without a row is invisible.
A row whose blob was lost gets it back when the same rows are saved again.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from foundation.events import EventType
from foundation.limits import DEFAULT_PAGE_SIZE
from foundation.states import JobState
from model_store.batches import unfinished_batches
from model_store.canonical import canonical_json
from model_store.deletion import create_unshared, delete_unless_held
from model_store.errors import NotFound, ObjectStoreUnreachable, StoreError
from model_store.events import record_event
from model_store.ids import dataset_id_for, validate_id
from model_store.objects import ObjectStore
from model_store.pages import Page, make_page, page_query
from model_store.records import BlobStatus, DatasetRecord
from model_store.tables import batch_predictions, datasets, jobs
from model_store.times import iso, now_us

COLUMNS = ("weight", "height", "label")
#: Why a dataset whose blob is gone cannot be read; uploading the same rows again restores it.
MISSING = "its columns are missing; upload the same rows again to restore them"


@dataclass(frozen=True)
class Dataset:
    """A stored dataset ready for training.

    info : its metadata (id, name, rows, counts, created_at)
    X : ndarray of shape (n_samples, 2), float64, columns [weight (lb), height (in)]
    y : ndarray of shape (n_samples,), float64, 1.0 = female ("F"), 0.0 = male ("M")
    """

    info: DatasetRecord
    X: np.ndarray
    y: np.ndarray


def _column(values: object, field: str) -> np.ndarray:
    try:
        column = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{field}: expected numbers") from None
    if column.ndim != 1:
        raise ValueError(f"{field}: expected a 1-D array, got shape {column.shape}")
    if not np.all(np.isfinite(column)):
        raise ValueError(f"{field}: every value must be finite")
    return column


def dataset_columns(weight: object, height: object, label: object) -> dict[str, np.ndarray]:
    """Check the three columns and return them as float64 arrays (ValueError if unusable)."""
    columns = {
        "weight": _column(weight, "weight"),
        "height": _column(height, "height"),
        "label": _column(label, "label"),
    }
    lengths = {name: len(column) for name, column in columns.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"columns differ in length: {lengths}")
    if lengths["label"] == 0:
        raise ValueError("the dataset is empty")
    if not np.all((columns["label"] == 0.0) | (columns["label"] == 1.0)):
        raise ValueError("label: every value must be 1.0 (F) or 0.0 (M)")
    return columns


def content_id(columns: dict[str, np.ndarray]) -> str:
    """`ds-` + 24 hex chars of the sha256 of the canonical JSON columns (the name does not
    count): the same rule as the file store before it, so imported datasets keep their ids."""
    return dataset_id_for(hashlib.sha256(canonical_json(columns)).hexdigest())


def encode_columns(columns: dict[str, np.ndarray]) -> bytes:
    """The blob: one `.npy` array of shape (n, 3), float64, columns [weight, height, label]."""
    buffer = io.BytesIO()
    np.save(buffer, np.column_stack([columns[name] for name in COLUMNS]), allow_pickle=False)
    return buffer.getvalue()


def decode_columns(dataset_id: str, data: bytes) -> np.ndarray:
    """The (n, 3) array of a blob; StoreError if it is not one."""
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise StoreError(f"dataset {dataset_id!r} is unreadable: {error}") from None
    if array.ndim != 2 or array.shape[1] != len(COLUMNS) or array.dtype != np.float64:
        raise StoreError(f"dataset {dataset_id!r} is unreadable: not an (n, 3) float64 array")
    return array


def view_columns(dataset_id: str, data: bytes) -> np.ndarray:
    """The (n, 3) array of a blob as a read-only view of its bytes (nothing copied); StoreError
    if it is not one. What `sample` picks rows from."""
    stream = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(stream)
        read_header = {
            (1, 0): np.lib.format.read_array_header_1_0,
            (2, 0): np.lib.format.read_array_header_2_0,
        }.get(version)
        if read_header is None:
            raise ValueError(f"unknown .npy format version {version}")
        shape, fortran_order, dtype = read_header(stream)
        if len(shape) != 2 or shape[1] != len(COLUMNS) or fortran_order or dtype != np.float64:
            raise ValueError("not an (n, 3) float64 array in C order")
        array = np.frombuffer(data, dtype=dtype, count=shape[0] * shape[1], offset=stream.tell())
    except ValueError as error:
        raise StoreError(f"dataset {dataset_id!r} is unreadable: {error}") from None
    return array.reshape(shape)


def object_key(dataset_id: str) -> str:
    return f"datasets/{validate_id(dataset_id)}.npy"


def _record(row: sa.Row | SimpleNamespace) -> DatasetRecord:
    """The metadata of a row (or of the values just inserted)."""
    return DatasetRecord(
        id=row.id,
        name=row.name,
        rows=row.rows,
        counts=dict(row.counts),
        created_at=iso(row.created_us),
    )


INFO_COLUMNS = (
    datasets.c.id,
    datasets.c.name,
    datasets.c.rows,
    datasets.c.counts,
    datasets.c.created_us,
)


class DatasetTable:
    """Saves, reads and lists datasets (rows in the database, columns in the object store)."""

    def __init__(self, engine: Engine, objects: ObjectStore) -> None:
        self.engine = engine
        self.objects = objects

    def save(
        self,
        name: str,
        weight: object,
        height: object,
        label: object,
        *,
        created_us: int | None = None,
    ) -> tuple[DatasetRecord, bool]:
        """Store 1-D columns (label 1.0 = F, 0.0 = M); return (metadata, created).

        The id is derived from the rows, not the name: created is False if they were stored
        before. ValueError for empty or mismatched columns, non-finite values or labels other
        than 0/1. `created_us` keeps an imported dataset's time.
        """
        if not isinstance(name, str):
            raise ValueError("name: expected a string")
        columns = dataset_columns(weight, height, label)
        dataset_id = content_id(columns)
        stored = self._row(dataset_id)
        if stored is not None:
            self._restore_blob(stored.object_key, columns)
            return _record(stored), False
        key = create_unshared(self.objects, object_key(dataset_id), encode_columns(columns))
        rows = len(columns["label"])
        females = int(columns["label"].sum())
        values = {
            "id": dataset_id,
            "name": name,
            "rows": rows,
            "counts": {"F": females, "M": rows - females},
            "created_us": created_us if created_us is not None else now_us(),
            "object_key": key,
        }
        try:
            with self.engine.begin() as connection:
                connection.execute(datasets.insert().values(**values))
                record_event(connection, EventType.DATASET_CREATED, dataset_id=dataset_id)
        except sa.exc.IntegrityError:  # stored by someone else meanwhile
            return self.get(dataset_id), False
        return _record(SimpleNamespace(**values)), True

    def _row(self, dataset_id: str) -> sa.Row | None:
        """The dataset's row with its blob's key, or None if there is none."""
        with self.engine.connect() as connection:
            return connection.execute(
                sa.select(*INFO_COLUMNS, datasets.c.object_key).where(
                    datasets.c.id == validate_id(dataset_id)
                )
            ).first()

    def _restore_blob(self, key: str, columns: dict[str, np.ndarray]) -> None:
        """Write a stored dataset's blob again if it is gone, create-only, so that the same rows
        uploaded again make it trainable again. The row keeps its key: a deletion that holds
        the row removes this blob with it, and one that has removed the row leaves an unnamed
        blob, which `create_unshared` never reuses."""
        if not self.objects.exists(key):
            self.objects.create(key, encode_columns(columns))

    def get(self, dataset_id: str) -> DatasetRecord:
        """Metadata of a dataset (no columns); NotFound if absent."""
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(*INFO_COLUMNS).where(datasets.c.id == validate_id(dataset_id))
            ).first()
        if row is None:
            raise NotFound("dataset", dataset_id)
        return _record(row)

    def load(self, dataset_id: str) -> Dataset:
        """The dataset with its columns as arrays, for training."""
        row = self._row(dataset_id)
        if row is None:
            raise NotFound("dataset", dataset_id)
        info = _record(row)
        try:
            data = self.objects.get(row.object_key)
        except NotFound:
            raise StoreError(f"dataset {dataset_id!r} is unreadable: {MISSING}") from None
        array = decode_columns(dataset_id, data)
        return Dataset(info=info, X=np.ascontiguousarray(array[:, :2]), y=array[:, 2].copy())

    def sample(self, dataset_id: str, limit: int) -> Dataset:
        """At most `limit` of the dataset's rows, evenly spaced over it in their stored order
        (all of them when it has no more): for drawing it. Only the picked rows are copied out
        of the blob. NotFound if absent, StoreError if its columns cannot be read."""
        row = self._row(dataset_id)
        if row is None:
            raise NotFound("dataset", dataset_id)
        try:
            data = self.objects.get(row.object_key)
        except NotFound:
            raise StoreError(f"dataset {dataset_id!r} is unreadable: {MISSING}") from None
        array = view_columns(dataset_id, data)
        taken = min(limit, len(array))
        picked = array[np.arange(taken) * len(array) // max(taken, 1)]
        return Dataset(info=_record(row), X=picked[:, :2].copy(), y=picked[:, 2].copy())

    def check(self, dataset_id: str) -> BlobStatus:
        """Whether the dataset's columns can be read for training, by reading them as `load`
        does; NotFound if there is no such dataset, ObjectStoreUnreachable if the object store
        does not answer."""
        row = self._row(dataset_id)
        if row is None:
            raise NotFound("dataset", dataset_id)
        try:
            decode_columns(dataset_id, self.objects.get(row.object_key))
        except NotFound:
            return BlobStatus("missing", f"dataset {dataset_id!r} is unreadable: {MISSING}")
        except ObjectStoreUnreachable:
            raise
        except StoreError as error:
            return BlobStatus("unreadable", str(error))
        return BlobStatus("ok")

    def list(
        self, limit: int = DEFAULT_PAGE_SIZE, page_token: str | None = None
    ) -> Page[DatasetRecord]:
        """One page of dataset metadata, newest first."""
        query = page_query(datasets, INFO_COLUMNS, limit, page_token)
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        return make_page(rows, limit, _record)

    def delete(self, dataset_id: str) -> None:
        """Delete the dataset's row and then its blob; NotFound if absent, InUse naming the
        queued or running jobs that train on it and batch predictions that score its rows.
        Models and finished jobs keep its id (their lineage); the models keep serving, as they
        never read the dataset again."""
        validate_id(dataset_id)
        holders = {
            "jobs": jobs_training_on(dataset_id),
            "batch_predictions": unfinished_batches(batch_predictions.c.dataset_id, dataset_id),
        }
        delete_unless_held(
            self.engine,
            self.objects,
            "dataset",
            datasets,
            dataset_id,
            holders,
            EventType.DATASET_DELETED,
        )


def jobs_training_on(dataset_id: str) -> sa.Select:
    """The queued or running jobs that train on `dataset_id`."""
    return (
        sa.select(jobs.c.id)
        .where(
            jobs.c.dataset_id == dataset_id,
            jobs.c.state.in_([JobState.QUEUED, JobState.RUNNING]),
        )
        .order_by(jobs.c.id)
    )
