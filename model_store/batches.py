"""Batch predictions as rows: a batch and its chunks, each chunk leased like a job.

A batch is created `queued` with all its chunks (each queued, its task sent); a worker process
claims one chunk at a time (`running`, itself the lease's owner), writes the chunk's results to
the object store create-only (`result_key`) and then marks the chunk done with one conditional
UPDATE, in the transaction that adds the chunk's rows and confusion counts to the batch's
totals. A chunk whose owner was lost is claimed again once its lease has run out (or by the
reaper's re-sent task); whichever delivery marks it first counts it, the others change nothing,
and its object is written once (a second `create` of the same key is refused). The batch ends
`succeeded` in the transaction that marks its last chunk, which also adds the chunk's rows to the
`batch_rows_scored` counter (kept when batches are deleted).

An ended batch is deleted in three steps (`model_store.batch_deletion`): one conditional UPDATE
marks it (`deleting_us`: from then on no reader sees it, as if it were gone), then its objects
are removed, then its rows. A deletion cut short leaves a marked batch, which a later one finishes.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from foundation.limits import DEFAULT_PAGE_SIZE
from foundation.states import TERMINAL_STATES, JobState
from model_store.errors import AlreadyExists, NotFound, StoreError
from model_store.ids import validate_id
from model_store.pages import Page, make_page, page_query
from model_store.records import BatchRecord, ChunkRecord
from model_store.tables import batch_chunks, batch_predictions, counters
from model_store.times import iso, now_us

#: The confusion matrix's columns: (true gender, predicted gender) -> column name.
CONFUSION_COLUMNS = {
    ("F", "F"): "female_as_female",
    ("F", "M"): "female_as_male",
    ("M", "F"): "male_as_female",
    ("M", "M"): "male_as_male",
}
#: Chunks the reaper looks at per pass and kind of repair.
REAP_BATCH = 200
UNFINISHED = (JobState.QUEUED, JobState.RUNNING)
ENDED = tuple(sorted(TERMINAL_STATES))
#: The counter of the rows batch predictions have scored (a row of `counters`).
ROWS_SCORED = "batch_rows_scored"
#: Tries of marking a batch for deletion when it ended between the mark and the look.
MARK_ATTEMPTS = 3
#: A batch no deletion has started on: the only kind readers see.
SHOWN = batch_predictions.c.deleting_us.is_(None)


def batch_folder(batch_id: str) -> str:
    """The key prefix of every object of a batch (no trailing `/`)."""
    return f"batch/{validate_id(batch_id)}"


def input_key(batch_id: str, chunk: int) -> str:
    """The object of an uploaded batch's rows of one chunk (a `.npy` array)."""
    return f"{batch_folder(batch_id)}/input-{int(chunk)}.npy"


def result_key(batch_id: str, chunk: int) -> str:
    """The object of one chunk's results (CSV lines without the header), written once."""
    return f"{batch_folder(batch_id)}/chunk-{int(chunk)}.csv"


@dataclass(frozen=True)
class ChunkClaim:
    """A delivery's try to take a chunk. "claimed": score it; "busy": a live owner has it;
    "done": it was scored already; "ended": its batch has ended (cancelled, failed); "gave_up":
    it lost `max_attempts` workers and its batch is now failed."""

    outcome: str
    batch: BatchRecord
    chunk: ChunkRecord


@dataclass
class BatchRepairs:
    """What one reaper pass did: chunks to send again, batches failed."""

    resend: list[tuple[str, int]] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def _record(row: sa.Row) -> BatchRecord:
    confusion: dict[str, dict[str, int]] = {"F": {}, "M": {}}
    for (true, predicted), column in CONFUSION_COLUMNS.items():
        confusion[true][predicted] = int(getattr(row, column))
    return BatchRecord(
        id=row.id,
        state=JobState(row.state),
        model_id=row.model_id,
        alias=row.alias,
        dataset_id=row.dataset_id,
        has_gender=bool(row.has_gender),
        rows_total=int(row.rows_total),
        rows_done=int(row.rows_done),
        chunk_rows=int(row.chunk_rows),
        chunks_total=int(row.chunks_total),
        chunks_done=int(row.chunks_done),
        confusion=confusion,
        error=row.error,
        created_at=iso(row.created_us),
        started_at=iso(row.started_us),
        finished_at=iso(row.finished_us),
    )


def _chunk(row: sa.Row) -> ChunkRecord:
    return ChunkRecord(
        batch_id=row.batch_id,
        chunk=int(row.chunk),
        first_row=int(row.first_row),
        rows=int(row.rows),
        state=row.state,
        attempts=int(row.attempts),
        owner=row.owner,
        heartbeat_at=row.heartbeat_at,
    )


def unfinished_batches(column: sa.Column, value: str) -> sa.Select:
    """The queued or running batches whose `column` (model_id, dataset_id) is `value`: they
    still need that model or dataset."""
    return (
        sa.select(batch_predictions.c.id)
        .where(column == value, batch_predictions.c.state.in_(UNFINISHED))
        .order_by(batch_predictions.c.id)
    )


def chunk_sizes(rows: int, chunk_rows: int) -> list[int]:
    """The rows of each chunk: `chunk_rows` each, the last one the rest."""
    return [min(chunk_rows, rows - start) for start in range(0, rows, chunk_rows)]


class BatchTable:
    """Creates, reads, lists and cancels batches; leases, marks and repairs their chunks."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # Creating and reading

    def create(self, record: dict[str, Any], chunk_rows: int) -> BatchRecord:
        """Store a queued batch and its queued chunks in one transaction; AlreadyExists.

        `record` has id, model_id, alias, dataset_id, has_gender and rows_total.
        """
        batch_id = validate_id(record["id"])
        sizes = chunk_sizes(int(record["rows_total"]), chunk_rows)
        if not sizes:
            raise ValueError("a batch needs at least one row")
        now = now_us()
        values = {
            "id": batch_id,
            "state": JobState.QUEUED,
            "created_us": now,
            "model_id": validate_id(record["model_id"]),
            "alias": record.get("alias"),
            "dataset_id": record.get("dataset_id"),
            "has_gender": bool(record["has_gender"]),
            "rows_total": int(record["rows_total"]),
            "chunk_rows": chunk_rows,
            "chunks_total": len(sizes),
        }
        chunks = [
            {
                "batch_id": batch_id,
                "chunk": number,
                "first_row": number * chunk_rows,
                "rows": size,
                "state": JobState.QUEUED,
                "sent_us": now,
            }
            for number, size in enumerate(sizes)
        ]
        try:
            with self.engine.begin() as connection:
                connection.execute(batch_predictions.insert().values(**values))
                connection.execute(batch_chunks.insert(), chunks)
        except sa.exc.IntegrityError:
            raise AlreadyExists("batch_prediction", batch_id) from None
        return self.get(batch_id)

    def get(self, batch_id: str) -> BatchRecord:
        """The batch; NotFound("batch_prediction") if absent or being deleted."""
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(batch_predictions).where(
                    batch_predictions.c.id == validate_id(batch_id), SHOWN
                )
            ).first()
        if row is None:
            raise NotFound("batch_prediction", batch_id)
        return _record(row)

    def chunks(self, batch_id: str) -> list[ChunkRecord]:
        """The batch's chunks, in order."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(batch_chunks)
                .where(batch_chunks.c.batch_id == validate_id(batch_id))
                .order_by(batch_chunks.c.chunk)
            ).all()
        return [_chunk(row) for row in rows]

    def list(
        self,
        limit: int = DEFAULT_PAGE_SIZE,
        page_token: str | None = None,
        *,
        state: str | None = None,
    ) -> Page[BatchRecord]:
        """One page of batches, newest first, optionally of one state."""
        filters = [SHOWN] if state is None else [SHOWN, batch_predictions.c.state == state]
        query = page_query(batch_predictions, [batch_predictions], limit, page_token, filters)
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        return make_page(rows, limit, _record)

    def delete(self, batch_id: str) -> None:
        """Remove a batch's rows (a batch whose tasks could not be sent, or whose deletion has
        removed its objects); its objects are the caller's."""
        with self.engine.begin() as connection:
            connection.execute(batch_chunks.delete().where(batch_chunks.c.batch_id == batch_id))
            connection.execute(batch_predictions.delete().where(batch_predictions.c.id == batch_id))

    # Deleting a batch (`model_store.batch_deletion` removes its objects in between)

    def mark_deleting(self, batch_id: str) -> BatchRecord:
        """Start deleting an ended batch: one conditional UPDATE marks it, hiding it from every
        reader. The record (marked now, or by a deletion cut short before); a queued or running
        batch's record, unmarked (cancel it first). NotFound if absent."""
        b = batch_predictions.c
        for _ in range(MARK_ATTEMPTS):
            with self.engine.begin() as connection:
                row = connection.execute(
                    batch_predictions.update()
                    .where(
                        b.id == validate_id(batch_id), b.state.in_(ENDED), b.deleting_us.is_(None)
                    )
                    .values(deleting_us=now_us())
                    .returning(*batch_predictions.c)
                ).first()
            if row is not None:
                return _record(row)
            with self.engine.connect() as connection:
                row = connection.execute(
                    sa.select(batch_predictions).where(b.id == batch_id)
                ).first()
            if row is None:
                raise NotFound("batch_prediction", batch_id)
            if row.deleting_us is not None or row.state in UNFINISHED:
                return _record(row)
        raise StoreError(f"batch prediction {batch_id} kept changing; try again")

    def is_shown(self, batch_id: str) -> bool:
        """Whether the batch exists and no deletion has started on it."""
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(batch_predictions.c.id).where(batch_predictions.c.id == batch_id, SHOWN)
            ).first()
        return row is not None

    def expired(self, ended_before_us: int | None, limit: int = REAP_BATCH) -> list[str]:
        """Batches to delete: those whose deletion was cut short, and (unless
        `ended_before_us` is None) those that ended before it; at most `limit`, oldest first."""
        b = batch_predictions.c
        due = b.deleting_us.is_not(None)
        if ended_before_us is not None:
            due = sa.or_(due, sa.and_(b.state.in_(ENDED), b.finished_us < ended_before_us))
        with self.engine.connect() as connection:
            return list(
                connection.execute(
                    sa.select(b.id).where(due).order_by(b.finished_us, b.id).limit(limit)
                ).scalars()
            )

    def rows_scored(self) -> int:
        """Rows batch predictions have scored, ever (deleted batches' too)."""
        with self.engine.connect() as connection:
            value = connection.execute(
                sa.select(counters.c.value).where(counters.c.name == ROWS_SCORED)
            ).scalar()
        return int(value or 0)

    # Ending a batch

    def _end(self, batch_id: str, state: JobState, error: str | None = None) -> BatchRecord | None:
        """Move an unfinished batch to `state`; the new record, or None if it had ended."""
        with self.engine.begin() as connection:
            row = connection.execute(
                batch_predictions.update()
                .where(
                    batch_predictions.c.id == validate_id(batch_id),
                    batch_predictions.c.state.in_(UNFINISHED),
                )
                .values(state=state, error=error, finished_us=now_us())
                .returning(*batch_predictions.c)
            ).first()
        return None if row is None else _record(row)

    def cancel(self, batch_id: str) -> BatchRecord | None:
        """Cancel a queued or running batch (chunks not yet claimed are then dropped by the
        worker that receives them); None if it had ended. NotFound if absent."""
        self.get(batch_id)
        return self._end(batch_id, JobState.CANCELLED)

    def fail(self, batch_id: str, error: str) -> BatchRecord | None:
        """Fail an unfinished batch with `error`; None if it had ended."""
        return self._end(batch_id, JobState.FAILED, error)

    # Chunks: the lease and the done marker

    def claim_chunk(
        self, batch_id: str, chunk: int, owner: str, lease_seconds: float, max_attempts: int
    ) -> ChunkClaim:
        """Make `owner` the chunk's owner if it is queued, or running under an owner that
        stopped beating (at most `max_attempts` times); the batch becomes running."""
        validate_id(batch_id)
        now = time.time()
        c = batch_chunks.c
        lost = sa.or_(c.heartbeat_at.is_(None), c.heartbeat_at < now - lease_seconds)
        batch_open = (
            sa.select(batch_predictions.c.id)
            .where(batch_predictions.c.id == batch_id, batch_predictions.c.state.in_(UNFINISHED))
            .exists()
        )
        with self.engine.begin() as connection:
            claimed = connection.execute(
                batch_chunks.update()
                .where(
                    c.batch_id == batch_id,
                    c.chunk == chunk,
                    sa.or_(
                        c.state == JobState.QUEUED,
                        sa.and_(c.state == JobState.RUNNING, lost, c.attempts < max_attempts),
                    ),
                    batch_open,
                )
                .values(
                    state=JobState.RUNNING, owner=owner, heartbeat_at=now, attempts=c.attempts + 1
                )
                .returning(*batch_chunks.c)
            ).first()
            if claimed is not None:
                connection.execute(
                    batch_predictions.update()
                    .where(
                        batch_predictions.c.id == batch_id,
                        batch_predictions.c.state == JobState.QUEUED,
                    )
                    .values(state=JobState.RUNNING, started_us=now_us())
                )
        batch = self.get(batch_id)
        if claimed is not None:
            return ChunkClaim("claimed", batch, _chunk(claimed))
        record = self._chunk_record(batch_id, chunk)
        if record.state == JobState.SUCCEEDED:
            return ChunkClaim("done", batch, record)
        if batch.state.is_terminal:
            return ChunkClaim("ended", batch, record)
        stale = record.heartbeat_at is None or record.heartbeat_at < now - lease_seconds
        if record.state == JobState.RUNNING and stale and record.attempts >= max_attempts:
            failed = self.fail(batch_id, _gave_up(chunk, record.attempts, max_attempts))
            return ChunkClaim("gave_up", failed or self.get(batch_id), record)
        return ChunkClaim("busy", batch, record)

    def _chunk_record(self, batch_id: str, chunk: int) -> ChunkRecord:
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(batch_chunks).where(
                    batch_chunks.c.batch_id == batch_id, batch_chunks.c.chunk == chunk
                )
            ).first()
        if row is None:
            raise NotFound("batch_chunk", f"{batch_id}/{chunk}")
        return _chunk(row)

    def finish_chunk(
        self, batch_id: str, chunk: int, confusion: dict[tuple[str, str], int]
    ) -> bool:
        """Mark the chunk done and add its rows and `confusion` counts ({(true, predicted):
        rows}) to its batch, once: False if it was marked before (nothing changes then). The
        batch ends `succeeded` with its last chunk."""
        c = batch_chunks.c
        b = batch_predictions.c
        with self.engine.begin() as connection:
            marked = connection.execute(
                batch_chunks.update()
                .where(c.batch_id == batch_id, c.chunk == chunk, c.state != JobState.SUCCEEDED)
                .values(state=JobState.SUCCEEDED, owner=None, heartbeat_at=None)
                .returning(c.rows)
            ).first()
            if marked is None:
                return False
            counts = {
                column: getattr(b, column) + int(confusion.get(pair, 0))
                for pair, column in CONFUSION_COLUMNS.items()
            }
            connection.execute(
                batch_predictions.update()
                .where(b.id == batch_id)
                .values(
                    rows_done=b.rows_done + int(marked.rows),
                    chunks_done=b.chunks_done + 1,
                    **counts,
                )
            )
            connection.execute(
                counters.update()
                .where(counters.c.name == ROWS_SCORED)
                .values(value=counters.c.value + int(marked.rows))
            )
            connection.execute(
                batch_predictions.update()
                .where(
                    b.id == batch_id,
                    b.state.in_(UNFINISHED),
                    b.chunks_done == b.chunks_total,
                )
                .values(state=JobState.SUCCEEDED, finished_us=now_us())
            )
        return True

    def release_chunk(self, batch_id: str, chunk: int, owner: str) -> None:
        """Hand a chunk back to the queue (this attempt does not count), if `owner` holds it."""
        c = batch_chunks.c
        with self.engine.begin() as connection:
            connection.execute(
                batch_chunks.update()
                .where(
                    c.batch_id == batch_id,
                    c.chunk == chunk,
                    c.state == JobState.RUNNING,
                    c.owner == owner,
                )
                .values(
                    state=JobState.QUEUED,
                    owner=None,
                    heartbeat_at=None,
                    attempts=sa.case((c.attempts > 0, c.attempts - 1), else_=0),
                    sent_us=now_us(),
                )
            )

    # Repair

    def reap(self, lease_seconds: float, max_attempts: int, resend_after: float) -> BatchRepairs:
        """One pass of repairs for the chunks of unfinished batches; the caller re-sends the
        tasks of `BatchRepairs.resend`.

        A running chunk whose owner stopped beating is requeued (its batch failed after
        `max_attempts` lost owners); a queued chunk whose task was sent more than
        `resend_after` seconds ago is listed for re-sending (a duplicate is dropped by the
        claim). Every change is conditional on what was read, so reapers may race.
        """
        now = time.time()
        c = batch_chunks.c
        open_batch = (
            sa.select(batch_predictions.c.id)
            .where(batch_predictions.c.id == c.batch_id, batch_predictions.c.state.in_(UNFINISHED))
            .exists()
        )
        repairs = BatchRepairs()
        with self.engine.connect() as connection:
            lost = connection.execute(
                sa.select(c.batch_id, c.chunk, c.heartbeat_at, c.attempts)
                .where(
                    c.state == JobState.RUNNING,
                    sa.or_(c.heartbeat_at.is_(None), c.heartbeat_at < now - lease_seconds),
                    open_batch,
                )
                .limit(REAP_BATCH)
            ).all()
            quiet = connection.execute(
                sa.select(c.batch_id, c.chunk, c.sent_us)
                .where(
                    c.state == JobState.QUEUED,
                    c.sent_us < now_us() - int(resend_after * 1_000_000),
                    open_batch,
                )
                .limit(REAP_BATCH)
            ).all()
        for row in lost:
            if row.attempts >= max_attempts:
                if self.fail(row.batch_id, _gave_up(row.chunk, row.attempts, max_attempts)):
                    repairs.failed.append(row.batch_id)
                continue
            same_lease = [
                c.batch_id == row.batch_id,
                c.chunk == row.chunk,
                c.state == JobState.RUNNING,
                c.heartbeat_at.is_(None)
                if row.heartbeat_at is None
                else c.heartbeat_at == row.heartbeat_at,
            ]
            requeue = {"state": JobState.QUEUED, "owner": None, "heartbeat_at": None}
            if self._update_chunk(same_lease, {**requeue, "sent_us": now_us()}):
                repairs.resend.append((row.batch_id, row.chunk))
        for row in quiet:
            same_send = [
                c.batch_id == row.batch_id,
                c.chunk == row.chunk,
                c.state == JobState.QUEUED,
                c.sent_us == row.sent_us,
            ]
            if self._update_chunk(same_send, {"sent_us": now_us()}):
                repairs.resend.append((row.batch_id, row.chunk))
        return repairs

    def _update_chunk(self, conditions: list, values: dict) -> bool:
        with self.engine.begin() as connection:
            result = connection.execute(batch_chunks.update().where(*conditions).values(**values))
        return result.rowcount > 0


def _gave_up(chunk: int, attempts: int, max_attempts: int) -> str:
    """The error of a batch failed for a chunk that lost its worker too often."""
    return (
        f"the worker scoring chunk {chunk} was lost {attempts} times (limit {max_attempts}); "
        "giving up"
    )


def encode_rows(features: np.ndarray, labels: np.ndarray | None) -> bytes:
    """An uploaded chunk's input object: one `.npy` array (n, 3) float64 of weight (lb), height
    (in) and label (1.0 F, 0.0 M; NaN for every row when the upload had no genders)."""
    label = np.full(len(features), np.nan) if labels is None else labels
    buffer = io.BytesIO()
    np.save(buffer, np.column_stack([features, label]), allow_pickle=False)
    return buffer.getvalue()


def decode_rows(key: str, data: bytes) -> tuple[np.ndarray, np.ndarray | None]:
    """(features (n, 2), labels or None) of an input object; StoreError if it is not one."""
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise StoreError(f"batch input {key} is unreadable: {error}") from None
    if array.ndim != 2 or array.shape[1] != 3 or array.dtype != np.float64:
        raise StoreError(f"batch input {key} is unreadable: not an (n, 3) float64 array")
    labels = array[:, 2]
    return np.ascontiguousarray(array[:, :2]), None if np.isnan(labels).all() else labels.copy()
