"""`nnservice store import DIR`: bring a store directory of the file format into this store.

The file store (before the database) kept `datasets/<id>.json` (metadata and JSON columns),
`models/<id>.json` (snapshots), `models/PROMOTIONS` (promoted ids, oldest first; `LATEST` is
its last line), `jobs/<id>.json` (job records) and `checkpoints/<job id>.json`. Everything is
imported as it was: datasets keep their ids (both stores derive them from the rows), snapshots
their created_at and sha256, jobs their times and outcome; an unfinished job comes back queued
(with its checkpoint) and the reaper sends its task. Running the import twice adds nothing the
second time.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from foundation.states import JobState
from model_store.canonical import parse_json, snapshot_sha256
from model_store.errors import AlreadyExists, CorruptSnapshot, InvalidId, NotFound, StoreError
from model_store.ids import validate_id
from model_store.store import ModelStore
from model_store.times import from_iso

log = logging.getLogger(__name__)

#: Who the imported promotions are recorded as having been made by.
IMPORTER = "store import"


@dataclass
class ImportReport:
    """How many of each kind were added, found present already, or skipped as unreadable."""

    added: dict[str, int] = field(default_factory=dict)
    present: dict[str, int] = field(default_factory=dict)
    unreadable: list[str] = field(default_factory=list)

    def count(self, kind: str, added: bool) -> None:
        target = self.added if added else self.present
        target[kind] = target.get(kind, 0) + 1


def _records(directory: Path) -> list[tuple[str, dict]]:
    """(id, parsed JSON object) of every `<id>.json` in `directory` (sorted by id)."""
    found = []
    if not directory.is_dir():
        return found
    for path in sorted(directory.glob("*.json")):
        try:
            record_id = validate_id(path.stem)
            record = parse_json(path.read_bytes())
        except (InvalidId, OSError, ValueError):
            continue
        if isinstance(record, dict):
            found.append((record_id, record))
    return found


def import_dataset(store: ModelStore, record: dict) -> bool:
    """Store a dataset record of the file store (columns and metadata); False if present."""
    _, created = store.datasets.save(
        record["name"],
        record["weight"],
        record["height"],
        record["label"],
        created_us=from_iso(record.get("created_at")),
    )
    return created


def import_model(store: ModelStore, snapshot: dict) -> bool:
    """Store a model's snapshot with its own created_at (so its sha256 stays); False if
    present, CorruptSnapshot if its sha256 does not match its content (it was damaged)."""
    model_id = validate_id(snapshot.get("id"))
    if snapshot.get("sha256") != snapshot_sha256(snapshot):
        raise CorruptSnapshot(model_id, "sha256 does not match the content")
    try:
        store.models.get(model_id)
        return False  # a job's own model would otherwise be "saved" again
    except NotFound:
        pass
    try:
        store.models.save(snapshot, created_us=from_iso(snapshot.get("created_at")))
    except AlreadyExists:
        return False
    return True


def import_job(store: ModelStore, record: dict) -> bool:
    """Store a job record as it was (unfinished ones queued again); False if present."""
    return store.jobs.insert_imported(record)


def import_file_store(store: ModelStore, root: str | Path) -> ImportReport:
    """Import the file store at `root` into `store`; see the module docstring."""
    root = Path(root)
    if not (root / "datasets").is_dir() and not (root / "models").is_dir():
        raise StoreError(f"{root} is not a file store (no datasets/ or models/ directory)")
    report = ImportReport()
    for kind, directory, add in (
        ("datasets", root / "datasets", import_dataset),
        ("jobs", root / "jobs", import_job),
        ("models", root / "models", import_model),
    ):
        for record_id, record in _records(directory):
            try:
                report.count(kind, add(store, record))
            except (StoreError, ValueError, KeyError, TypeError) as error:
                log.warning("not imported: %s/%s.json (%s)", directory.name, record_id, error)
                report.unreadable.append(f"{directory.name}/{record_id}.json: {error}")
    _import_checkpoints(store, root / "checkpoints", report)
    _import_promotions(store, root / "models", report)
    return report


def _import_checkpoints(store: ModelStore, directory: Path, report: ImportReport) -> None:
    for job_id, data in _records(directory):
        try:
            if store.jobs.get(job_id).state != JobState.QUEUED:
                continue
            if store.checkpoints.load(job_id) is not None:  # imported before, or newer
                report.count("checkpoints", False)
                continue
            store.checkpoints.save(job_id, data)
            report.count("checkpoints", True)
        except (StoreError, ValueError) as error:
            report.unreadable.append(f"checkpoints/{job_id}.json: {error}")


def _import_promotions(store: ModelStore, directory: Path, report: ImportReport) -> None:
    """Replay PROMOTIONS (or LATEST alone) in order, once: skipped if an import did it before."""
    if store.models.count_promotions_by(IMPORTER):
        report.count("promotions", False)
        return
    lines: list[str] = []
    for name in ("PROMOTIONS", "LATEST"):
        try:
            lines = (directory / name).read_text(encoding="utf-8").split()
        except (OSError, UnicodeDecodeError):
            continue
        if lines:
            break
    for model_id in lines:
        try:
            store.models.promote(validate_id(model_id), IMPORTER)
            report.count("promotions", True)
        except (StoreError, ValueError) as error:
            report.unreadable.append(f"models/{name}: {model_id}: {error}")


def describe(report: ImportReport) -> str:
    """One line for the command's output."""
    return json.dumps(
        {"added": report.added, "present": report.present, "unreadable": len(report.unreadable)}
    )
