"""Reading side of the store's directories: which record files exist, and their JSON."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from model_store.canonical import parse_json
from model_store.errors import InvalidId, StoreError
from model_store.ids import validate_id


def json_files(directory: Path) -> list[tuple[str, Path]]:
    """(id, path) of every `<valid id>.json` in `directory`; temporary files are skipped."""
    found = []
    try:
        entries = list(os.scandir(directory))
    except OSError as error:
        raise StoreError(f"cannot list {directory.name}/: {error.strerror}") from None
    for entry in entries:
        stem, dot, extension = entry.name.rpartition(".")
        if not dot or extension != "json":
            continue
        try:
            found.append((validate_id(stem), Path(entry.path)))
        except InvalidId:
            continue
    return found


def file_version(path: Path) -> tuple[int, int, int] | None:
    """(inode, mtime_ns, size) of `path`, or None if absent: one stat that changes on every
    atomic replace, so pollers and caches can tell a new version without reading the file."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return (stat.st_ino, stat.st_mtime_ns, stat.st_size)


def read_json(path: Path) -> Any:
    """Parse the JSON file at `path` (strict: no NaN); raises OSError or ValueError."""
    return parse_json(path.read_bytes())


def newest_first(records: list[dict]) -> list[dict]:
    """Sort records by created_at (ISO strings sort in time order), newest first; ties by id."""
    return sorted(
        records, key=lambda r: (r.get("created_at") or "", r.get("id") or ""), reverse=True
    )


def read_all(directory: Path, read: Callable[[str], dict]) -> list[dict]:
    """`read(id)` of every record file in `directory`, newest first; unreadable ones skipped.

    StoreError if the directory itself cannot be listed.
    """
    records = []
    for record_id, _path in json_files(directory):
        try:
            records.append(read(record_id))
        except StoreError:
            continue
    return newest_first(records)
