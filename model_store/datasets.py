"""Datasets under `datasets/`: content-addressed, immutable, stored as JSON columns."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model_store.atomic import create_exclusive
from model_store.canonical import canonical_json, parse_json
from model_store.errors import NotFound, StoreError
from model_store.files import read_all
from model_store.ids import dataset_id_for, utc_now_iso, validate_id

METADATA_FIELDS = ("id", "name", "rows", "counts", "created_at")
COLUMNS = ("weight", "height", "label")


@dataclass(frozen=True)
class Dataset:
    """A stored dataset ready for training.

    info : metadata dict (id, name, rows, counts, created_at)
    X : ndarray of shape (n_samples, 2), float64, columns [weight (lb), height (in)]
    y : ndarray of shape (n_samples,), float64, 1.0 = female ("F"), 0.0 = male ("M")
    """

    info: dict
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


def dataset_columns(weight: object, height: object, label: object) -> dict[str, list[float]]:
    """Check the three columns and return them as JSON-able float lists (ValueError if unusable)."""
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
    return {name: column.tolist() for name, column in columns.items()}


def content_id(columns: dict[str, list[float]]) -> str:
    """`ds-` + 24 hex chars of the sha256 of the canonical columns (the name does not count)."""
    return dataset_id_for(hashlib.sha256(canonical_json(columns)).hexdigest())


def _metadata(record: dict) -> dict:
    """The metadata fields of a dataset record, as a fresh dict (callers may change it)."""
    info = {field: record[field] for field in METADATA_FIELDS}
    info["counts"] = dict(info["counts"])
    return info


def _parse_json(dataset_id: str, data: bytes) -> object:
    try:
        return parse_json(data)
    except ValueError as error:
        raise StoreError(f"dataset {dataset_id!r} is unreadable: {error}") from None


def _checked(dataset_id: str, record: object) -> dict:
    """`record` if it is a dataset record with every field; StoreError otherwise."""
    if not isinstance(record, dict) or record.get("id") != dataset_id:
        raise StoreError(f"dataset {dataset_id!r} is unreadable: not a dataset record")
    for field in (*METADATA_FIELDS, *COLUMNS):
        if field not in record:
            raise StoreError(f"dataset {dataset_id!r} is unreadable: {field} missing")
    return record


def split_columns(data: bytes, dataset_id: str) -> tuple[bytes, dict[str, memoryview]] | None:
    """Take a stored record apart: (the record with empty columns, {column: its JSON text}).

    A record is canonical JSON (sorted keys, no spaces, ASCII), so each column is the one
    `,"<name>":[` ... `]` in it (a `"` inside a JSON string is always escaped, and numbers hold
    no `]`), and the content id is the sha256 of exactly these texts: `{"height":[...],
    "label":[...],"weight":[...]}`. The texts are used only if that hash gives `dataset_id`, so
    they are byte for byte what was saved. None when anything differs (the caller parses the
    whole file instead).
    """
    spans = []
    for name in COLUMNS:
        marker = f',"{name}":['.encode()
        start = data.find(marker)
        if start < 0 or data.find(marker, start + 1) >= 0:
            return None
        begin = start + len(marker)
        end = data.find(b"]", begin)
        if end < 0:
            return None
        spans.append((begin, end, name))
    spans.sort()
    view = memoryview(data)
    texts = {name: view[begin:end] for begin, end, name in spans}  # no copies
    digest = hashlib.sha256()
    for position, name in enumerate(sorted(COLUMNS)):  # canonical_json(columns), piece by piece
        opener = "," if position else "{"
        digest.update(f'{opener}"{name}":['.encode())
        digest.update(texts[name])
        digest.update(b"]")
    digest.update(b"}")
    if dataset_id_for(digest.hexdigest()) != dataset_id:
        return None
    rest, last = [], 0
    for begin, end, _ in spans:
        rest.append(data[last:begin])
        last = end
    rest.append(data[last:])
    return b"".join(rest), texts


def _numbers(text: memoryview) -> np.ndarray:
    """A column's verified JSON text (numbers and commas, no brackets) as a float64 array;
    numpy parses each number exactly as Python's float() does."""
    if not text:
        return np.empty(0)
    return np.fromstring(text.tobytes(), dtype=np.float64, sep=",")


class DatasetFiles:
    """Saves, reads and lists datasets; caches metadata (datasets never change once written)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._info_cache: dict[str, tuple[tuple[int, int], dict]] = {}

    def _path(self, dataset_id: str) -> Path:
        return self.directory / f"{validate_id(dataset_id)}.json"

    def save(self, name: str, weight: object, height: object, label: object) -> tuple[dict, bool]:
        """Store the dataset; return (metadata, created). created is False when the same rows exist
        already (under whatever name they were first stored)."""
        if not isinstance(name, str):
            raise ValueError("name: expected a string")
        columns = dataset_columns(weight, height, label)
        dataset_id = content_id(columns)
        females = int(sum(columns["label"]))
        record = {
            "id": dataset_id,
            "name": name,
            "rows": len(columns["label"]),
            "counts": {"F": females, "M": len(columns["label"]) - females},
            "created_at": utc_now_iso(),
            **columns,
        }
        if create_exclusive(self._path(dataset_id), canonical_json(record)):
            return _metadata(record), True
        return self.get(dataset_id), False

    def _bytes(self, dataset_id: str) -> bytes:
        try:
            return self._path(dataset_id).read_bytes()
        except FileNotFoundError:
            raise NotFound("dataset", dataset_id) from None
        except OSError as error:
            raise StoreError(f"dataset {dataset_id!r} is unreadable: {error}") from None

    def _read_split(self, dataset_id: str) -> tuple[dict, dict[str, memoryview] | None]:
        """(record, column texts): the record without its columns and each column's JSON text,
        taken apart without parsing a number (`split_columns`); (whole record, None) when the
        file is not the canonical record its id was made from."""
        data = self._bytes(dataset_id)
        split = split_columns(data, dataset_id)
        if split is None:
            return _checked(dataset_id, _parse_json(dataset_id, data)), None
        rest, texts = split
        return _checked(dataset_id, _parse_json(dataset_id, rest)), texts

    def get(self, dataset_id: str) -> dict:
        """Metadata of a dataset (no columns); NotFound if absent."""
        path = self._path(dataset_id)
        try:
            stat = os.stat(path)
        except FileNotFoundError:
            raise NotFound("dataset", dataset_id) from None
        key = (stat.st_ino, stat.st_mtime_ns)
        cached = self._info_cache.get(dataset_id)
        if cached is not None and cached[0] == key:
            return _metadata(cached[1])
        info = _metadata(self._read_split(dataset_id)[0])
        self._info_cache[dataset_id] = (key, info)
        return _metadata(info)

    def load(self, dataset_id: str) -> Dataset:
        """The dataset with its columns as arrays, for training.

        The columns go from their JSON text straight into float64 arrays (bit-exact, no Python
        float per value): a million rows take about a third of the memory `json.loads` needs.
        """
        record, texts = self._read_split(dataset_id)
        if texts is None:
            try:
                columns = {name: np.asarray(record[name], dtype=np.float64) for name in COLUMNS}
            except (TypeError, ValueError) as error:
                raise StoreError(f"dataset {dataset_id!r} is unreadable: {error}") from None
        else:  # one column's text copied at a time
            columns = {name: _numbers(texts.pop(name)) for name in COLUMNS}
        X = np.column_stack([columns["weight"], columns["height"]])
        return Dataset(info=_metadata(record), X=X, y=columns["label"])

    def list(self) -> list[dict]:
        """Metadata of every readable dataset, newest first."""
        return read_all(self.directory, self.get)
