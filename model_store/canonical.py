"""Canonical JSON (the bytes hashed and stored) and the sha256 of a snapshot's content."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np


def _plain(value: Any) -> Any:
    """numpy scalars and arrays as the Python numbers and lists they hold (json's `default`)."""
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def canonical_json(obj: Any) -> bytes:
    """Sorted keys, no spaces, no NaN/Infinity, UTF-8: equal data always gives equal bytes.

    numpy numbers and arrays are written as the plain numbers and lists they hold.
    """
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False, default=_plain)
    return text.encode("utf-8")


def sha256_hex(obj: Any) -> str:
    """Hex sha256 of the canonical JSON of `obj`."""
    return hashlib.sha256(canonical_json(obj)).hexdigest()


def snapshot_sha256(snapshot: dict) -> str:
    """The sha256 a snapshot carries: over every field except "sha256" itself."""
    return sha256_hex({key: value for key, value in snapshot.items() if key != "sha256"})


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(data: bytes) -> Any:
    """Parse strict JSON bytes: NaN and Infinity raise ValueError, as the writer refuses them."""
    return json.loads(data, parse_constant=_refuse_constant)
