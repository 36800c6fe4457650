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

from model_store.canonical import parse_json
from model_store.errors import InvalidId, StoreError
from model_store.ids import validate_id
from model_store.store import ModelStore

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


def import_file_store(store: ModelStore, root: str | Path) -> ImportReport:
    """Import the file store at `root` into `store`; see the module docstring."""
    root = Path(root)
    if not (root / "datasets").is_dir() and not (root / "models").is_dir():
        raise StoreError(f"{root} is not a file store (no datasets/ or models/ directory)")
    report = ImportReport()
    for kind, directory, add in (
        ("datasets", root / "datasets", store.import_dataset),
        ("jobs", root / "jobs", store.import_job),
        ("models", root / "models", store.import_snapshot),
    ):
        for record_id, record in _records(directory):
            try:
                report.count(kind, add(record))
            except (StoreError, ValueError, KeyError, TypeError) as error:
                log.warning("not imported: %s/%s.json (%s)", directory.name, record_id, error)
                report.unreadable.append(f"{directory.name}/{record_id}.json: {error}")
    _import_checkpoints(store, root / "checkpoints", report)
    _import_promotions(store, root / "models", report)
    return report


def _import_checkpoints(store: ModelStore, directory: Path, report: ImportReport) -> None:
    for job_id, data in _records(directory):
        try:
            if store.get_job(job_id)["state"] != "queued":
                continue
            if store.load_checkpoint(job_id) is not None:  # imported before, or newer
                report.count("checkpoints", False)
                continue
            store.save_checkpoint(job_id, data)
            report.count("checkpoints", True)
        except (StoreError, ValueError) as error:
            report.unreadable.append(f"checkpoints/{job_id}.json: {error}")


def _import_promotions(store: ModelStore, directory: Path, report: ImportReport) -> None:
    """Replay PROMOTIONS (or LATEST alone) in order, once: skipped if an import did it before."""
    if store.promotions_by(IMPORTER):
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
            store.promote(validate_id(model_id), IMPORTER)
            report.count("promotions", True)
        except (StoreError, ValueError) as error:
            report.unreadable.append(f"models/{name}: {model_id}: {error}")


def describe(report: ImportReport) -> str:
    """One line for the command's output."""
    return json.dumps(
        {"added": report.added, "present": report.present, "unreadable": len(report.unreadable)}
    )
