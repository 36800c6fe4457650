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
    return _canonical_text(obj).encode("utf-8")


def sha256_hex(obj: Any) -> str:
    """Hex sha256 of the canonical JSON of `obj`."""
    return hashlib.sha256(canonical_json(obj)).hexdigest()


def snapshot_sha256(snapshot: dict) -> str:
    """The sha256 a snapshot carries: over every field except "sha256" itself."""
    return sha256_hex({key: value for key, value in snapshot.items() if key != "sha256"})


def hashed_snapshot_json(snapshot: dict) -> tuple[str, bytes]:
    """(sha256, canonical JSON of the snapshot with that sha256 in it), encoding each field once.

    Equal to `snapshot_sha256(s)` and `canonical_json({**s, "sha256": ...})`: a dict's canonical
    JSON is its sorted keys and their values' canonical JSON, joined, so the field texts serve
    both the hash (without "sha256") and the stored bytes (with it).
    """
    fields = {
        key: json.dumps(key) + ":" + _canonical_text(value)
        for key, value in snapshot.items()
        if key != "sha256"
    }
    digest = hashlib.sha256(("{" + ",".join(fields[k] for k in sorted(fields)) + "}").encode())
    sha256 = digest.hexdigest()
    fields["sha256"] = json.dumps("sha256") + ":" + json.dumps(sha256)
    return sha256, ("{" + ",".join(fields[k] for k in sorted(fields)) + "}").encode("utf-8")


def _canonical_text(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False, default=_plain)


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(data: bytes) -> Any:
    """Parse strict JSON bytes: NaN and Infinity raise ValueError, as the writer refuses them."""
    return json.loads(data, parse_constant=_refuse_constant)
