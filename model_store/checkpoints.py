"""Training checkpoints: one replaceable JSON object per job, in the object store.

A checkpoint lets another worker resume a job where a lost or stopped one left it. It is a
convenience, never the truth: an unreadable one is ignored and the job starts over, which is
always correct, only slower.
"""

from __future__ import annotations

from model_store.canonical import canonical_json, parse_json
from model_store.errors import NotFound, StoreError
from model_store.ids import validate_id
from model_store.objects import ObjectStore


def checkpoint_key(job_id: str) -> str:
    return f"checkpoints/{validate_id(job_id)}.json"


class Checkpoints:
    """Saves, loads and deletes jobs' checkpoints (`checkpoints/<job id>.json`)."""

    def __init__(self, objects: ObjectStore) -> None:
        self.objects = objects

    def save(self, job_id: str, data: dict) -> None:
        """Replace the job's checkpoint (ValueError if it holds NaN or Infinity)."""
        self.objects.put(checkpoint_key(job_id), canonical_json(data))

    def load(self, job_id: str) -> dict | None:
        """The job's checkpoint, or None if it has none or it is unreadable."""
        key = checkpoint_key(job_id)  # InvalidId for a bad id, as everywhere else
        try:
            data = parse_json(self.objects.get(key))
        except (NotFound, StoreError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def delete(self, job_id: str) -> None:
        """Remove the job's checkpoint if any."""
        self.objects.delete(checkpoint_key(job_id))
