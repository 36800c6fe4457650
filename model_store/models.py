"""Snapshot files under `models/`, the `models/LATEST` pointer, its history `PROMOTIONS` and the
promotion signal `PROMOTED` (`model_store.promotion_signal`)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from model_store.atomic import append_line, create_exclusive, write_atomic
from model_store.canonical import hashed_snapshot_json
from model_store.errors import AlreadyExists, CorruptSnapshot, InvalidId, InvalidSnapshot, NotFound
from model_store.files import file_version, json_files, newest_first
from model_store.ids import new_model_id, utc_now_iso, validate_id
from model_store.promotion_signal import SIGNAL, PromotionSignal
from model_store.snapshots import (
    corrupt_summary,
    summarise,
    validate_snapshot,
    verify_snapshot_bytes,
    with_defaults,
)

LATEST = "LATEST"
#: Every promoted id, one a line, oldest first: where to fall back when LATEST names a broken file.
PROMOTIONS = "PROMOTIONS"
SETTLED_NS = 2_000_000_000


class ModelFiles:
    """Saves, verifies and lists snapshots; keeps the LATEST pointer."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.latest_path = directory / LATEST
        self.promotions_path = directory / PROMOTIONS
        self.signal = PromotionSignal(directory / SIGNAL)
        self._just_saved: tuple[str, tuple[int, int, int] | None] | None = None
        self._summaries: dict[str, tuple[tuple[int, int, int], dict]] = {}

    def _path(self, model_id: str) -> Path:
        return self.directory / f"{validate_id(model_id)}.json"

    def save(self, snapshot: dict) -> dict:
        """Validate and store a snapshot; fill id (if absent), created_at and sha256.

        If `snapshot["id"]` names an existing file made by the same `training.job_id`, that file is
        returned unchanged (a retried job saves exactly one snapshot); any other clash raises
        AlreadyExists. Creation is an `os.link`, so of two racing writers only one creates the id.
        """
        prepared = with_defaults(snapshot)
        if prepared.get("id") is None:
            prepared["id"] = new_model_id()
        prepared["created_at"] = utc_now_iso()
        prepared.pop("sha256", None)
        validate_snapshot(prepared)
        try:
            prepared["sha256"], data = hashed_snapshot_json(prepared)
        except ValueError:
            raise InvalidSnapshot(
                "training: contains NaN or Infinity, which JSON cannot hold"
            ) from None
        model_id = prepared["id"]
        if create_exclusive(self._path(model_id), data):
            self._just_saved = (model_id, file_version(self._path(model_id)))
            return prepared
        existing = self.get(model_id)
        job_id = prepared["training"].get("job_id")
        if job_id is not None and existing["training"].get("job_id") == job_id:
            return existing
        raise AlreadyExists("model", model_id)

    def get(self, model_id: str) -> dict:
        """The verified snapshot; NotFound if absent, CorruptSnapshot if it cannot be trusted."""
        path = self._path(model_id)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise NotFound("model", model_id) from None
        except OSError as error:
            raise CorruptSnapshot(model_id, f"unreadable ({error.strerror})") from None
        return verify_snapshot_bytes(model_id, data)

    def _summary(self, model_id: str, path: Path) -> dict | None:
        """The listing entry of one file (is_latest unset), re-verified only when the file changed.

        The stat comes before the read, so a file replaced in between is verified again next time.
        As in git's "racy clean" rule, a file modified less than SETTLED_NS ago is not cached: an
        in-place rewrite within the timestamp granularity could keep mtime, size and inode.
        """
        try:
            stat = os.stat(path)
        except FileNotFoundError:
            return None
        key = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        cached = self._summaries.get(model_id)
        if cached is not None and cached[0] == key:
            return cached[1]
        try:
            summary = summarise(self.get(model_id), is_latest=False)
        except NotFound:
            return None
        except CorruptSnapshot as error:
            summary = corrupt_summary(model_id, error.reason, is_latest=False)
        if time.time_ns() - stat.st_mtime_ns > SETTLED_NS:
            self._summaries[model_id] = (key, summary)
        return summary

    def list(self) -> list[dict]:
        """Summaries of every snapshot, newest first, corrupt ones (status "corrupt") last.

        Never raises for a bad file: its entry carries the reason in "error".
        """
        latest = self.latest_id()
        summaries = []
        for model_id, path in json_files(self.directory):
            summary = self._summary(model_id, path)
            if summary is not None:
                metrics = dict(summary["metrics"])
                summaries.append({**summary, "metrics": metrics, "is_latest": model_id == latest})
        return newest_first(summaries)

    def latest_id(self) -> str | None:
        """The id LATEST points to, as written (not checked against the snapshot); None if unset."""
        try:
            text = self.latest_path.read_text(encoding="utf-8").strip()
            return validate_id(text)
        except (OSError, UnicodeDecodeError, InvalidId):
            return None

    def promote(self, model_id: str) -> None:
        """Point LATEST at `model_id` after verifying its snapshot (NotFound / CorruptSnapshot).

        The snapshot this object has just created (same id, inode, mtime and size: the store never
        rewrites a snapshot in place) was verified as it was written, so it is not read again.
        """
        just_saved = self._just_saved
        if just_saved is None or just_saved != (model_id, file_version(self._path(model_id))):
            self.get(model_id)
        append_line(self.promotions_path, model_id)  # first: a failed write changes nothing
        write_atomic(self.latest_path, f"{model_id}\n".encode())
        self.signal.bump()  # after LATEST: a reader that sees the new token finds the new id

    def promotion_history(self, limit: int = 50) -> list[str]:
        """Ids promoted before, most recent first, without repeats (at most `limit`).

        Not checked against their snapshots; unreadable lines and ids are skipped.
        """
        try:
            lines = self.promotions_path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            return []
        history: list[str] = []
        for line in reversed(lines):
            try:
                model_id = validate_id(line.strip())
            except InvalidId:
                continue
            if model_id not in history:
                history.append(model_id)
                if len(history) == limit:
                    break
        return history

    def latest_version(self) -> tuple[int, int, int] | None:
        """(inode, mtime_ns, size) of LATEST, or None: one stat, so caches notice a promotion."""
        return file_version(self.latest_path)
