"""Job records under `jobs/`: created once, changed only under an flock, written atomically.

Readers never lock: a record is replaced with `os.replace`, so a read sees one whole version.
Writers (the API and any number of workers) serialise read-modify-write on `jobs/<id>.lock`.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import cast

from model_store.atomic import create_exclusive, remove, write_atomic
from model_store.canonical import canonical_json
from model_store.errors import AlreadyExists, NotFound, StoreError, StoreWriteError
from model_store.files import file_version, json_files, read_all, read_json
from model_store.ids import utc_now_iso, validate_id

STATES = ("queued", "running", "succeeded", "failed", "cancelled")
# Fields whose change must survive a crash; other updates (progress) skip the directory fsync,
# and so does any write that leaves the job "running" (a claim): if a crash undoes it, the job is
# back to its previous state and its message is delivered again, so the job is redone.
DURABLE_FIELDS = frozenset({"state", "model_id", "error", "finished_at", "attempts"})


def new_job_record(record: dict) -> dict:
    """A complete queued job record: the documented defaults, overlaid with `record`."""
    hyperparameters = record.get("hyperparameters") or {}
    full = {
        "progress": {"epoch": 0, "epochs": hyperparameters.get("epochs"), "loss": None},
        "loss_history": [],
        "model_id": None,
        "metrics": {"train_accuracy": None, "validation_accuracy": None},
        "error": None,
        "created_at": utc_now_iso(),
        "started_at": None,
        "finished_at": None,
        "dataset_id": None,
        "hyperparameters": hyperparameters,
        "initial_model_id": None,
        "promote": True,
        "attempts": 0,
    }
    full.update(record)
    full["state"] = "queued"
    return full


class JobFiles:
    """Creates, changes, lists and deletes job records, and their cancel markers."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._prefix = f"{directory}{os.sep}"  # for the per-epoch cancel look: no Path objects

    def _path(self, job_id: str, suffix: str = ".json") -> Path:
        return self.directory / f"{validate_id(job_id)}{suffix}"

    @contextlib.contextmanager
    def _locked(self, job_id: str) -> Iterator[None]:
        """Hold an exclusive flock on `jobs/<id>.lock` (released when the descriptor closes)."""
        path = self._path(job_id, ".lock")
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as error:
            raise StoreWriteError(f"cannot open {path.name}: {error.strerror}") from error
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def create(self, record: dict) -> dict:
        """Store a new job in state "queued"; needs `record["id"]` (AlreadyExists if taken)."""
        if not isinstance(record, dict) or "id" not in record:
            raise ValueError("a job record needs an id")
        job = new_job_record(record)
        if not create_exclusive(self._path(record["id"]), canonical_json(job)):
            raise AlreadyExists("job", record["id"])
        return job

    def get(self, job_id: str) -> dict:
        """The job record; NotFound if absent, StoreError if unreadable."""
        path = self._path(job_id)
        try:
            record = read_json(path)
        except FileNotFoundError:
            raise NotFound("job", job_id) from None
        except (OSError, ValueError) as error:
            raise StoreError(f"job {job_id!r} is unreadable: {error}") from None
        if not isinstance(record, dict):
            raise StoreError(f"job {job_id!r} is unreadable: not a JSON object")
        return record

    def version(self, job_id: str) -> tuple[int, int, int] | None:
        """(inode, mtime_ns, size) of the record, or None if there is no such job (one stat)."""
        return file_version(self._path(job_id))

    def versions(self) -> dict[str, tuple[int, int, int]]:
        """{job id: (inode, mtime_ns, size)} of every record: one directory scan and a stat each,
        so a cache over all jobs re-reads only the records that changed."""
        found = {}
        for job_id, path in json_files(self.directory):
            version = file_version(path)
            if version is not None:  # removed since the scan
                found[job_id] = version
        return found

    def modify(self, job_id: str, change: Callable[[dict], dict | None]) -> dict | None:
        """Read-modify-write under the job's lock, safe across processes.

        `change(record)` returns the fields to set (shallow merge; "id" cannot change) or None to
        leave the record as it is, in which case None is returned; otherwise the new record.
        """
        with self._locked(job_id):
            record = self.get(job_id)
            fields = change(dict(record))
            if fields is None:
                return None
            updated = {**record, **fields, "id": record["id"]}
            if updated["state"] not in STATES:
                raise ValueError(f"state: expected one of {list(STATES)}, got {updated['state']!r}")
            write_atomic(
                self._path(job_id),
                canonical_json(updated),
                sync_dir=updated["state"] != "running" and not DURABLE_FIELDS.isdisjoint(fields),
            )
            return updated

    def update(self, job_id: str, **fields: object) -> dict:
        """Set `fields` on the record (under the lock) and return the new record."""
        return cast(dict, self.modify(job_id, lambda record: fields))

    def transition(
        self, job_id: str, from_states: Collection[str], **fields: object
    ) -> dict | None:
        """Set `fields` only if the job's state is in `from_states`; the new record, else None."""
        if isinstance(from_states, str):  # one state, not its characters
            from_states = (from_states,)
        return self.modify(
            job_id, lambda record: fields if record["state"] in from_states else None
        )

    def list(self, limit: int = 100) -> list[dict]:
        """Up to `limit` records, newest (created_at) first; unreadable records are skipped."""
        if limit < 0:
            raise ValueError("limit must be >= 0")
        return read_all(self.directory, self.get)[:limit]

    def delete(self, job_id: str) -> None:
        """Remove a job's record, cancel marker and lock (for a job whose task was never sent)."""
        with self._locked(job_id):
            if not remove(self._path(job_id)):
                raise NotFound("job", job_id)
            remove(self._path(job_id, ".cancel"))
            remove(self._path(job_id, ".lock"))

    def request_cancel(self, job_id: str) -> None:
        """Leave the `jobs/<id>.cancel` marker the training loop polls; NotFound if no such job."""
        self.get(job_id)
        write_atomic(self._path(job_id, ".cancel"), f"{utc_now_iso()}\n".encode())

    def cancel_requested(self, job_id: str) -> bool:
        """Whether cancellation was requested (one stat; training asks every few milliseconds)."""
        return os.path.exists(f"{self._prefix}{validate_id(job_id)}.cancel")
