"""Datasets under `datasets/`: content-addressed, immutable, stored as JSON columns."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model_store.atomic import create_exclusive
from model_store.canonical import canonical_json
from model_store.errors import NotFound, StoreError
from model_store.files import read_all, read_json
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

    def _read(self, dataset_id: str) -> dict:
        path = self._path(dataset_id)
        try:
            record = read_json(path)
            if not isinstance(record, dict) or record.get("id") != dataset_id:
                raise ValueError("not a dataset record")
            for field in (*METADATA_FIELDS, *COLUMNS):
                if field not in record:
                    raise ValueError(f"{field} missing")
        except FileNotFoundError:
            raise NotFound("dataset", dataset_id) from None
        except (OSError, ValueError) as error:
            raise StoreError(f"dataset {dataset_id!r} is unreadable: {error}") from None
        return record

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
        info = _metadata(self._read(dataset_id))
        self._info_cache[dataset_id] = (key, info)
        return _metadata(info)

    def load(self, dataset_id: str) -> Dataset:
        """The dataset with its columns as arrays, for training."""
        record = self._read(dataset_id)
        X = np.column_stack(
            [
                np.asarray(record["weight"], dtype=np.float64),
                np.asarray(record["height"], dtype=np.float64),
            ]
        )
        y = np.asarray(record["label"], dtype=np.float64)
        return Dataset(info=_metadata(record), X=X, y=y)

    def list(self) -> list[dict]:
        """Metadata of every readable dataset, newest first."""
        return read_all(self.directory, self.get)
