"""Training checkpoints under `checkpoints/`: what a job needs to resume after a lost worker."""

from __future__ import annotations

from pathlib import Path

from model_store.atomic import remove, write_atomic
from model_store.canonical import canonical_json
from model_store.files import read_json
from model_store.ids import validate_id


class CheckpointFiles:
    """One JSON checkpoint per job, replaced atomically; JSON floats round-trip bit-exactly."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, job_id: str) -> Path:
        return self.directory / f"{validate_id(job_id)}.json"

    def save(self, job_id: str, data: dict) -> None:
        """Replace the job's checkpoint with `data` (ValueError if it holds NaN or Infinity)."""
        write_atomic(self._path(job_id), canonical_json(data))

    def load(self, job_id: str) -> dict | None:
        """The job's checkpoint, or None if there is none or it is unreadable (then the job
        starts over, which is always correct, only slower)."""
        path = self._path(job_id)
        try:
            data = read_json(path)
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def delete(self, job_id: str) -> None:
        """Remove the job's checkpoint if it exists."""
        remove(self._path(job_id))
